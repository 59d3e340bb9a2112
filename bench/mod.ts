/**
 * Benchmark dispatcher: `deno task bench [name]` runs `bench/<name>.ts`, or every benchmark
 * in `bench/` when no name is given, each in its own process. Scratch goes to `bench/out/`.
 */
const here = new URL(".", import.meta.url).pathname;

/** Names of the benchmarks in `bench/` (every `*.ts` but this dispatcher), sorted. */
export function benchNames(): string[] {
  return [...Deno.readDirSync(here)]
    .filter((e) => e.isFile && e.name.endsWith(".ts") && e.name !== "mod.ts")
    .map((e) => e.name.slice(0, -3))
    .sort();
}

if (import.meta.main) {
  const known = benchNames();
  const wanted = Deno.args.length ? Deno.args : known;
  const unknown = wanted.filter((n) => !known.includes(n));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(", ")} (known: ${known.join(", ")})`);
    Deno.exit(2);
  }
  let failed = 0;
  for (const name of wanted) {
    console.log(`== bench ${name}`);
    const st = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${here}${name}.ts`],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!st.success) failed++;
  }
  Deno.exit(failed ? 1 : 0);
}
