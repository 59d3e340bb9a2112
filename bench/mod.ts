/**
 * Benchmark entry: `deno task bench <name>` runs `bench/<name>.ts` (each benchmark module runs
 * itself when it is the main module, and exports its function for this dispatcher).
 */
const name = Deno.args[0];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: deno task bench <name>   (a file bench/<name>.ts)");
  Deno.exit(2);
}
const url = new URL(`./${name}.ts`, import.meta.url);
if (!(await Deno.stat(url).catch(() => null))) {
  console.error(`no benchmark named "${name}" (bench/${name}.ts does not exist)`);
  Deno.exit(2);
}
const mod = await import(url.href);
const fn = Object.values(mod).find((v) => typeof v === "function" && v.name.startsWith("bench"));
if (typeof fn === "function") await fn(Deno.args.slice(1));
