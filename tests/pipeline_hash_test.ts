/**
 * Hashing building blocks on the real file system: canonical JSON, streaming SHA-256 against
 * known digests, the stat cache (hit, invalidation, racy files, persistence), manifests and
 * the per-key OS lock.
 */
import { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "./assert.ts";
import { canonicalJson, hashValue } from "../pipeline/canonical.ts";
import { hashFile, sha256File, StatCache } from "../pipeline/hash.ts";
import { acquireKeyLock } from "../pipeline/key_lock.ts";
import { hashTree, listFiles, treeDigest, verifyTree } from "../pipeline/manifest.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "arb-hash-" });
}

Deno.test("canonical JSON sorts keys, normalises -0 and refuses what JSON cannot carry", () => {
  assertEquals(
    canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: -0 } }),
    '{"a":{"c":0,"d":[3,{"x":2,"y":1}]},"b":1}',
  );
  assertEquals(hashValue({ a: 1, b: 2 }), hashValue({ b: 2, a: 1 }));
  assertNotEquals(hashValue({ a: 1 }), hashValue({ a: "1" }));
  assertEquals(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  assertThrows(() => canonicalJson({ a: NaN }), "$.a: NaN has no canonical JSON form");
  assertThrows(() => canonicalJson([1n]), "bigint");
});

Deno.test("streaming SHA-256 matches known digests, across chunk boundaries", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/abc`, "abc");
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assertEquals(
      (await sha256File(`${dir}/abc`)).sha256,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assertEquals(
      (await sha256File(`${dir}/empty`)).sha256,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    // 9 MiB + 3 bytes: spans three 4 MiB reads; reference is WebCrypto's one-shot digest.
    const big = new Uint8Array(9 * (1 << 20) + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    await Deno.writeFile(`${dir}/big`, big);
    const ref = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", big)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    assertEquals(await sha256File(`${dir}/big`), { sha256: ref, size: big.length });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the stat cache answers for unchanged files and notices every change", async () => {
  const dir = await tempDir();
  try {
    const f = `${dir}/data.bin`;
    await Deno.writeTextFile(f, "hello world\n");
    await sleep(60); // older than the racy window
    const cache = await StatCache.load(`${dir}/stat-cache.json`);
    const first = await hashFile(f, cache);
    assertEquals(first.cached, false);
    assertEquals(await hashFile(f, cache), { ...first, cached: true });

    await Deno.writeTextFile(f, "hello World\n"); // same size, new content
    await sleep(60);
    const changed = await hashFile(f, cache);
    assertEquals(changed.cached, false);
    assertNotEquals(changed.sha256, first.sha256);

    // A copy renamed over the original has another inode: re-read.
    await Deno.writeTextFile(`${dir}/other`, "hello World\n");
    await Deno.rename(`${dir}/other`, f);
    await sleep(60);
    assertEquals((await hashFile(f, cache)).cached, false);
    assertEquals((await hashFile(f, cache)).cached, true);

    // Persisted and reloaded by another StatCache (as another process would).
    await cache.save();
    const reloaded = await StatCache.load(`${dir}/stat-cache.json`);
    assertEquals((await hashFile(f, reloaded)).cached, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file modified just before hashing is not trusted from the cache (racy)", async () => {
  const dir = await tempDir();
  try {
    const f = `${dir}/fresh`;
    await Deno.writeTextFile(f, "x");
    // An mtime in the future keeps the file inside the racy window however slowly this
    // (possibly loaded) machine gets to the hashing; then it is dated back to the past.
    const future = new Date(Date.now() + 10_000);
    await Deno.utime(f, future, future);
    const cache = StatCache.memory();
    assertEquals((await hashFile(f, cache)).cached, false);
    assertEquals((await hashFile(f, cache)).cached, false, "not recorded while racy");
    const past = new Date(Date.now() - 10_000);
    await Deno.utime(f, past, past);
    await sleep(60); // the utime itself set ctime to now: let it age past the window
    assertEquals((await hashFile(f, cache)).cached, false);
    assertEquals((await hashFile(f, cache)).cached, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("manifests: digest is order-free and changes with any path or content; verify finds it", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/out/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/out/b.txt`, "B");
    await Deno.writeTextFile(`${dir}/out/sub/a.txt`, "A");
    await Deno.writeTextFile(`${dir}/out/.manifest.json`, "{}"); // never part of the listing
    const cache = StatCache.memory();
    assertEquals(await listFiles(`${dir}/out`), ["b.txt", "sub/a.txt"]);
    const files = await hashTree(`${dir}/out`, cache);
    assertEquals(treeDigest(files), treeDigest([...files].reverse()));
    assertEquals(await verifyTree(`${dir}/out`, files, cache), null);

    const renamed = files.map((f) => f.path === "b.txt" ? { ...f, path: "c.txt" } : f);
    assertNotEquals(treeDigest(renamed), treeDigest(files));
    await Deno.rename(`${dir}/out/b.txt`, `${dir}/out/c.txt`);
    assertEquals(await verifyTree(`${dir}/out`, files, cache), "unexpected file c.txt");
    await Deno.rename(`${dir}/out/c.txt`, `${dir}/out/b.txt`);
    await Deno.writeTextFile(`${dir}/out/sub/a.txt`, "Z");
    assert((await verifyTree(`${dir}/out`, files, cache))!.startsWith("sub/a.txt: sha256 "));

    await Deno.symlink(`${dir}/out/b.txt`, `${dir}/out/link`);
    await assertRejects(() => listFiles(`${dir}/out`), "output link is a symlink");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a key lock excludes a second holder until released; waiting says so and can abort", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/locks/k.lock`;
    const first = await acquireKeyLock(path);
    let waitedFor = "";
    let acquired = false;
    const second = acquireKeyLock(path, { onWait: (h) => waitedFor = h }).then((l) => {
      acquired = true;
      return l;
    });
    await sleep(250);
    assertEquals(acquired, false, "the second holder must wait");
    assertEquals(waitedFor, `pid ${Deno.pid}`);
    first.release();
    const lock2 = await second;
    assert(acquired);

    const controller = new AbortController();
    const third = acquireKeyLock(path, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("stop waiting")), 150);
    await assertRejects(() => third, "stop waiting");
    lock2.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
