/** The runtime versions recorded with every output: Deno's and the pinned dependencies'. */
import type { RuntimeInfo } from "./cache.ts";

/**
 * Reads the pinned dependency versions from the `imports` of `denoJson` (entries like
 * `npm:@scope/name@1.2.3`) and adds the running Deno version. A missing file gives no deps.
 */
export async function runtimeInfo(denoJson: string): Promise<RuntimeInfo> {
  const dependencies: Record<string, string> = {};
  try {
    const imports = JSON.parse(await Deno.readTextFile(denoJson)).imports ?? {};
    for (const [name, spec] of Object.entries(imports)) {
      const m = typeof spec === "string" ? /^(?:npm|jsr):(@?[^@]+)@(.+)$/.exec(spec) : null;
      if (m) dependencies[name] = m[2];
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return { deno: Deno.version.deno, dependencies };
}
