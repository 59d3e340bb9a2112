import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import { acquireFile, type Source } from "../arb/data/acquire.ts";
import { hashBytes } from "../arb/data/checksum.ts";
import { downloadToPart } from "../arb/data/download.ts";
import { Rng } from "../arb/rng.ts";
import { startServer, tempDir } from "./data_fixtures.ts";

const FAST = { retries: 2, backoffMs: 5, timeoutMs: 2000 };

function payload(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

async function listDownloads(cacheDir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(join(cacheDir, "downloads"))) if (e.isFile) names.push(e.name);
  return names.sort();
}

Deno.test("download: clean fetch lands in the cache under its sha256, no .part left", async () => {
  const data = payload(300_000, 1);
  const sha = hashBytes(data);
  const server = startServer({ "/a.bin": data });
  await using tmp = await tempDir();
  try {
    const progress: number[] = [];
    const got = await acquireFile("a.bin", [{
      location: `${server.base}/a.bin`,
      expect: { sha256: sha },
    }], {
      cacheDir: tmp.dir,
      ...FAST,
      onProgress: (b) => progress.push(b),
    });
    assertEquals(got.path, join(tmp.dir, "downloads", sha));
    assertEquals(got.sha256, sha);
    assertEquals(got.cached, false);
    assertEquals(await Deno.readFile(got.path), data);
    assertEquals(progress.at(-1), data.length);
    assertEquals(await listDownloads(tmp.dir), [sha, `${sha}.json`, `${sha}.lock`]);
    const side = JSON.parse(await Deno.readTextFile(`${got.path}.json`));
    assertEquals(side.url, `${server.base}/a.bin`);
  } finally {
    await server.close();
  }
});

Deno.test("download: a connection cut mid-file is resumed with an HTTP Range request", async () => {
  const data = payload(200_000, 2);
  const server = startServer({ "/f.bin": data });
  server.modes.set("/f.bin", "cut-once");
  await using tmp = await tempDir();
  try {
    const logs: string[] = [];
    const got = await acquireFile("f.bin", [{
      location: `${server.base}/f.bin`,
      expect: { sha256: hashBytes(data) },
    }], {
      cacheDir: tmp.dir,
      ...FAST,
      log: (m) => logs.push(m),
    });
    assertEquals(await Deno.readFile(got.path), data);
    assertEquals(server.requests.length, 2);
    assertEquals(server.requests[0].range, null);
    assertEquals(server.requests[1].range, `bytes=${data.length / 2}-`);
    assert(
      logs.some((l) => l.includes("connection cut") && l.includes("resuming")),
      logs.join("\n"),
    );
  } finally {
    await server.close();
  }
});

Deno.test("download: a server that ignores Range is restarted from byte 0", async () => {
  const data = payload(100_000, 3);
  const server = startServer({ "/r.bin": data });
  await using tmp = await tempDir();
  try {
    const part = join(tmp.dir, "r.part");
    await Deno.writeFile(part, data.subarray(0, 1000).map((b) => b ^ 0xff)); // stale junk
    server.modes.set("/r.bin", "ignore-range");
    await downloadToPart(`${server.base}/r.bin`, part, FAST);
    assertEquals(await Deno.readFile(part), data);
    assertEquals(server.requests[0].range, "bytes=1000-");
  } finally {
    await server.close();
  }
});

Deno.test("download: a stalled response hits the idle timeout and resumes", async () => {
  const data = payload(50_000, 4);
  const server = startServer({ "/s.bin": data });
  server.modes.set("/s.bin", "stall-once");
  await using tmp = await tempDir();
  try {
    const part = join(tmp.dir, "s.part");
    const logs: string[] = [];
    await downloadToPart(`${server.base}/s.bin`, part, {
      ...FAST,
      timeoutMs: 300,
      log: (m) => logs.push(m),
    });
    assertEquals(await Deno.readFile(part), data);
    assertEquals(server.requests[1].range, `bytes=${data.length / 2}-`);
    assertStringIncludes(logs.join("\n"), "no data for 0.3 s");
  } finally {
    await server.close();
  }
});

Deno.test("download: a part file that already holds everything is accepted on 416", async () => {
  const data = payload(10_000, 5);
  const server = startServer({ "/done.bin": data });
  await using tmp = await tempDir();
  try {
    // Simulates a crash after the last byte but before the rename: the Range asks past the end.
    const part = join(tmp.dir, "done.part");
    await Deno.writeFile(part, data);
    const r = await downloadToPart(`${server.base}/done.bin`, part, FAST);
    assertEquals(r.bytes, data.length);
    assertEquals(await Deno.readFile(part), data);
  } finally {
    await server.close();
  }
});

Deno.test("download: a wrong checksum deletes the file and names both hashes and the source", async () => {
  const data = payload(20_000, 6);
  const wanted = hashBytes(payload(20_000, 7));
  const server = startServer({ "/bad.bin": data });
  await using tmp = await tempDir();
  try {
    const url = `${server.base}/bad.bin`;
    const err = await assertRejects(() =>
      acquireFile("bad.bin", [{ location: url, expect: { sha256: wanted } }], {
        cacheDir: tmp.dir,
        ...FAST,
      })
    );
    assertStringIncludes(err.message, wanted);
    assertStringIncludes(err.message, hashBytes(data));
    assertStringIncludes(err.message, url);
    assertStringIncludes(err.message, "deleted");
    assertEquals(await listDownloads(tmp.dir), [`${wanted}.lock`]);
  } finally {
    await server.close();
  }
});

Deno.test("download: md5 is checked next to sha256", async () => {
  const data = payload(5_000, 8);
  const server = startServer({ "/m.bin": data });
  await using tmp = await tempDir();
  try {
    const src: Source = {
      location: `${server.base}/m.bin`,
      expect: { sha256: hashBytes(data), md5: "0".repeat(32) },
    };
    const err = await assertRejects(() =>
      acquireFile("m.bin", [src], { cacheDir: tmp.dir, ...FAST })
    );
    assertStringIncludes(
      err.message,
      `md5 mismatch: expected ${"0".repeat(32)}, got ${hashBytes(data, "md5")}`,
    );
    src.expect.md5 = hashBytes(data, "md5");
    const got = await acquireFile("m.bin", [src], { cacheDir: tmp.dir, ...FAST });
    assertEquals(got.md5, hashBytes(data, "md5"));
  } finally {
    await server.close();
  }
});

Deno.test("download: 404 names the URL and says how to give a mirror or local copy", async () => {
  const server = startServer({});
  await using tmp = await tempDir();
  try {
    const url = `${server.base}/missing.tar.gz`;
    const err = await assertRejects(() =>
      acquireFile("missing.tar.gz", [{ location: url, expect: { sha256: "a".repeat(64) } }], {
        cacheDir: tmp.dir,
        ...FAST,
      })
    );
    assertStringIncludes(err.message, `not found (HTTP 404): ${url}`);
    assertStringIncludes(err.message, "sources");
    assertStringIncludes(err.message, "local copy");
    assertEquals(server.requests.length, 1); // a 404 is not retried
  } finally {
    await server.close();
  }
});

Deno.test("download: an unreachable host is retried, then named", async () => {
  const server = startServer({});
  const base = server.base;
  await server.close(); // nothing listens on that port now
  await using tmp = await tempDir();
  const url = `${base}/x.bin`;
  const err = await assertRejects(() =>
    acquireFile("x.bin", [{ location: url, expect: { sha256: "b".repeat(64) } }], {
      cacheDir: tmp.dir,
      ...FAST,
    })
  );
  assertStringIncludes(err.message, "cannot reach host");
  assertStringIncludes(err.message, "3 attempts");
  assertStringIncludes(err.message, url);
  assertStringIncludes(err.message, "mirror or a local copy");
});

Deno.test("download: sources are tried in order; a second fetch hits the cache with no request", async () => {
  const data = payload(40_000, 9);
  const sha = hashBytes(data);
  const server = startServer({ "/mirror/c.bin": data });
  await using tmp = await tempDir();
  try {
    const sources: Source[] = [
      { location: `${server.base}/gone/c.bin`, expect: { sha256: sha } },
      { location: `${server.base}/mirror/c.bin`, expect: { sha256: sha } },
    ];
    const first = await acquireFile("c.bin", sources, { cacheDir: tmp.dir, ...FAST });
    assertEquals(first.source, `${server.base}/mirror/c.bin`);
    const seen = server.requests.length;
    const second = await acquireFile("c.bin", sources, { cacheDir: tmp.dir, ...FAST });
    assertEquals(server.requests.length, seen);
    assertEquals(second.cached, true);
    assertEquals(second.path, first.path);
    assertEquals(second.source, first.source); // provenance survives the cache
  } finally {
    await server.close();
  }
});

Deno.test("download: a local copy is verified in place and never deleted on mismatch", async () => {
  await using tmp = await tempDir();
  const data = payload(1000, 10);
  const path = join(tmp.dir, "local.bin");
  await Deno.writeFile(path, data);
  const ok = await acquireFile("local.bin", [{
    location: path,
    expect: { sha256: hashBytes(data) },
  }], {
    cacheDir: tmp.dir,
  });
  assertEquals(ok.path, path);
  const err = await assertRejects(() =>
    acquireFile("local.bin", [{ location: `file://${path}`, expect: { sha256: "c".repeat(64) } }], {
      cacheDir: tmp.dir,
    })
  );
  assertStringIncludes(err.message, "left as it is");
  assertEquals(await Deno.readFile(path), data);
});

Deno.test("download: a server that never finishes is given up on; the .part stays for a resume, no entry", async () => {
  const data = payload(20_000, 11);
  const sha = hashBytes(data);
  const server = startServer({ "/never.bin": data });
  server.modes.set("/never.bin", "cut-always"); // each response stops halfway through what it owes
  await using tmp = await tempDir();
  try {
    const err = await assertRejects(() =>
      acquireFile(
        "never.bin",
        [{ location: `${server.base}/never.bin`, expect: { sha256: sha } }],
        {
          cacheDir: tmp.dir,
          ...FAST,
        },
      )
    );
    assertStringIncludes(err.message, "without progress");
    const names = await listDownloads(tmp.dir);
    assert(!names.includes(sha), "an unfinished download must not look complete");
    assert(names.includes(`${sha}.part`), names.join(","));
    // Later the server is healthy again: the next run resumes from the part file.
    server.modes.set("/never.bin", "normal");
    const before = server.requests.length;
    const got = await acquireFile("never.bin", [{
      location: `${server.base}/never.bin`,
      expect: { sha256: sha },
    }], {
      cacheDir: tmp.dir,
      ...FAST,
    });
    assertEquals(await Deno.readFile(got.path), data);
    assert(server.requests[before].range !== null, "the next run resumed with a Range request");
  } finally {
    await server.close();
  }
});

Deno.test("download: two fetches of one file at once download it once (file lock)", async () => {
  const data = payload(500_000, 12);
  const sha = hashBytes(data);
  const server = startServer({ "/both.bin": data });
  await using tmp = await tempDir();
  try {
    const src = [{ location: `${server.base}/both.bin`, expect: { sha256: sha } }];
    const [a, b] = await Promise.all([
      acquireFile("both.bin", src, { cacheDir: tmp.dir, ...FAST }),
      acquireFile("both.bin", src, { cacheDir: tmp.dir, ...FAST }),
    ]);
    assertEquals(a.path, b.path);
    assertEquals(server.requests.length, 1);
    assertEquals([a.cached, b.cached].sort(), [false, true]);
    assertEquals(await Deno.readFile(a.path), data);
  } finally {
    await server.close();
  }
});
