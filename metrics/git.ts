/**
 * The commit a run's code came from, for the run metadata (`runs.git_commit`). A working
 * tree with uncommitted changes is marked `-dirty`, so a report never passes local edits off
 * as a commit.
 */

/** `git rev-parse HEAD` (plus `-dirty` when tracked files changed) in `cwd`, or undefined outside git. */
export async function gitCommit(cwd = Deno.cwd()): Promise<string | undefined> {
  const git = async (...args: string[]) => {
    try {
      const r = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
        .output();
      return r.success ? new TextDecoder().decode(r.stdout).trim() : undefined;
    } catch {
      return undefined; // git not installed
    }
  };
  const head = await git("rev-parse", "HEAD");
  if (!head) return undefined;
  const status = await git("status", "--porcelain", "--untracked-files=no");
  return status ? `${head}-dirty` : head;
}
