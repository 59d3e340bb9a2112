import { assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import { readTarGz } from "../arb/data/tar.ts";
import { Rng } from "../arb/rng.ts";
import { gzip, tempDir, writeTar } from "./data_fixtures.ts";

const hasTar = await new Deno.Command("tar", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

function bytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

Deno.test("tar: reads the fixture writer's archives, keeping only the wanted members", async () => {
  await using tmp = await tempDir();
  const a = bytes(1000, 1), b = bytes(512, 2), c = bytes(0, 3);
  const path = join(tmp.dir, "x.tar.gz");
  await Deno.writeFile(
    path,
    await gzip(writeTar([
      { name: "d/", dir: true },
      { name: "d/a.bin", bytes: a },
      { name: "d/b.bin", bytes: b },
      { name: "d/empty", bytes: c },
    ])),
  );
  const all = await readTarGz(path, () => true);
  assertEquals([...all.keys()], ["d/a.bin", "d/b.bin", "d/empty"]);
  assertEquals(all.get("d/a.bin"), a);
  assertEquals(all.get("d/b.bin"), b);
  assertEquals(all.get("d/empty"), c);
  const some = await readTarGz(path, (n) => n.endsWith("b.bin"));
  assertEquals([...some.keys()], ["d/b.bin"]);
});

Deno.test({
  name: "tar: agrees with GNU tar on gnu and pax archives with long names",
  ignore: !hasTar,
  async fn() {
    await using tmp = await tempDir();
    const src = join(tmp.dir, "src");
    const longDir = "a-folder-name-long-enough-to-need-more-than-one-hundred-bytes/".repeat(2);
    await Deno.mkdir(join(src, longDir), { recursive: true });
    const files: Record<string, Uint8Array> = {
      "short.bin": bytes(70_000, 4),
      [`${longDir}long-name-file.bin`]: bytes(3000, 5),
    };
    for (const [name, data] of Object.entries(files)) await Deno.writeFile(join(src, name), data);
    for (const format of ["gnu", "pax", "ustar"]) {
      const archive = join(tmp.dir, `${format}.tar.gz`);
      const members = format === "ustar" ? ["short.bin"] : Object.keys(files);
      const out = await new Deno.Command("tar", {
        args: [`--format=${format}`, "-czf", archive, "-C", src, ...members],
      }).output();
      assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
      const read = await readTarGz(archive, () => true);
      assertEquals([...read.keys()].sort(), [...members].sort(), format);
      for (const m of members) assertEquals(read.get(m), files[m], `${format}: ${m}`);
    }
    // And GNU tar lists the fixture writer's archive the same way.
    const mine = join(tmp.dir, "mine.tar.gz");
    await Deno.writeFile(mine, await gzip(writeTar([{ name: "x/y.bin", bytes: bytes(10, 6) }])));
    const list = await new Deno.Command("tar", { args: ["-tzf", mine] }).output();
    assertEquals(new TextDecoder().decode(list.stdout).trim(), "x/y.bin");
  },
});

Deno.test("tar: a corrupt header and a truncated gzip stream are reported with the archive", async () => {
  await using tmp = await tempDir();
  const tar = writeTar([{ name: "a.bin", bytes: bytes(2000, 7) }]);
  const broken = tar.slice();
  broken[10] ^= 0xff; // inside the name: the header checksum no longer matches
  const p1 = join(tmp.dir, "corrupt.tgz");
  await Deno.writeFile(p1, await gzip(broken));
  const e1 = await assertRejects(() => readTarGz(p1, () => true));
  assertStringIncludes(e1.message, `${p1}: corrupt tar header at byte 0`);
  const gz = await gzip(tar);
  const p2 = join(tmp.dir, "cut.tgz");
  await Deno.writeFile(p2, gz.slice(0, gz.length - 20));
  const e2 = await assertRejects(() => readTarGz(p2, () => true));
  assertStringIncludes(e2.message, `${p2}: the archive is truncated or corrupt`);
});
