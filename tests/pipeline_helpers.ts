/**
 * Shared set-up for the pipeline tests: a temporary folder holding an experiment file and a
 * private cache (`ARB_CACHE_DIR`), and helpers that run `deno run -A main.ts ...` in it as
 * a real subprocess.
 */

/** The repository's CLI entry point. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Output of a finished CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temporary experiment folder. */
export interface Sandbox {
  dir: string;
  /** The experiment file (`exp.yaml`). */
  file: string;
  /** The private cache folder. */
  cache: string;
  /** Writes `yaml` as the experiment file. */
  write(yaml: string): Promise<void>;
  /** Runs `main.ts` with `args` to completion. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Starts `main.ts` with `args` and returns the running child (stdout/stderr piped). */
  spawn(args: string[], env?: Record<string, string>): Deno.ChildProcess;
  /** Names of committed cache entries. */
  objects(): Promise<string[]>;
  /** Names under the cache's tmp folder. */
  tmpEntries(): Promise<string[]>;
  /** Removes the folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** Creates a sandbox, optionally with an experiment file. */
export async function sandbox(yaml?: string): Promise<Sandbox> {
  const dir = await Deno.makeTempDir({ prefix: "arb-pipeline-" });
  const file = `${dir}/exp.yaml`;
  const cache = `${dir}/cache`;
  const command = (args: string[], env: Record<string, string>) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: dir,
      env: { ARB_CACHE_DIR: cache, NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const box: Sandbox = {
    dir,
    file,
    cache,
    write: (y) => Deno.writeTextFile(file, y),
    async cli(args, env = {}) {
      const out = await command(args, env).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    },
    spawn: (args, env = {}) => command(args, env).spawn(),
    objects: () => names(`${cache}/objects`),
    tmpEntries: () => names(`${cache}/tmp`),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  if (yaml !== undefined) await box.write(yaml);
  return box;
}

/** Statuses by instance id from a `--summary-json` file. */
export async function statuses(path: string): Promise<Record<string, string>> {
  const s = JSON.parse(await Deno.readTextFile(path));
  return Object.fromEntries(
    s.stages.map((x: { id: string; status: string }) => [x.id, x.status]),
  );
}

/** Reads a child's piped stream to the end as text. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  return text;
}

/** Resolves once `path` exists (polling), or rejects after `timeoutMs`. */
export async function waitForFile(path: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      if (Date.now() > end) throw new Error(`timed out waiting for ${path}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Waits for a pid file written by `echo $$ > file` and returns the pid. Polls until a whole
 * line is there: the file exists a moment before its content does.
 */
export async function readPid(path: string, timeoutMs = 10000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (/^\d+\n$/.test(text) && Number(text) > 0) return Number(text);
    if (Date.now() > end) throw new Error(`timed out waiting for a pid in ${path}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True while a process with `pid` exists. */
export function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/**
 * A four-stage experiment of `command` stages: `data` -> `train` (matrix over `env.METHOD`)
 * -> `eval` (fans out) -> `report` (gathers). `epochs` feeds `train` only. Every command
 * appends its instance name to `$RUNLOG` when that is set, so tests see what really ran.
 */
export function fourStageYaml(opts: { epochs?: number; methods?: string[] } = {}): string {
  const methods = opts.methods ?? ["arb", "bt"];
  const log = (what: string) => `echo ${what} >> \${RUNLOG:-/dev/null}`;
  return `name: four
description: a four-stage test pipeline
profiles:
  smoke: { stages: { train: { with: { env: { EPOCHS: 1 } } } } }
stages:
  data:
    uses: command
    with: { run: "${log("data")}; seq 1 5 > $OUT/data.txt", outs: [data.txt] }
  train:
    uses: command
    needs: [data]
    matrix: { env.METHOD: [${methods.join(", ")}] }
    with:
      run: ${log("train-$METHOD")}; (cat $IN_DATA/data.txt; echo "$METHOD $EPOCHS") > $OUT/model.txt
      outs: [model.txt]
      env: { EPOCHS: ${opts.epochs ?? 10} }
  eval:
    uses: command
    needs: [train]
    with: { run: "${
    log("eval")
  }; tail -n 1 $IN_TRAIN/model.txt > $OUT/score.txt", outs: [score.txt] }
  report:
    uses: command
    needs: [eval]
    gather: true
    with:
      run: ${log("report")}; for d in $IN_EVAL; do cat $d/score.txt; done > $OUT/report.txt
      outs: [report.txt]
`;
}

/** Lines appended to a run log so far (empty when none), then clears it. */
export async function takeRunLog(path: string): Promise<string[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return text.split("\n").filter(Boolean).sort();
}
