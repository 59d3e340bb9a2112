/** The stage graph: `needs` checked for unknown names and cycles, then a stable topological order. */
import type { Problem } from "./errors.ts";
import { type ExperimentSpec, stagePaths, type StageSpec } from "./spec.ts";

/**
 * Orders the stages so every stage comes after the ones it needs (ties keep file order).
 * Reports each unknown `needs` entry and each cycle (printed as `a -> b -> a`) at the
 * `needs` entry that names it.
 */
export function orderStages(
  spec: ExperimentSpec,
): { order: StageSpec[] } | { problems: Problem[] } {
  const byName = new Map(spec.stages.map((s) => [s.name, s]));
  const at = (stage: string, i: number) =>
    spec.source.locate(stagePaths(spec.profile, stage, ["needs", i]));
  const problems: Problem[] = [];

  for (const s of spec.stages) {
    s.needs.forEach((n, i) => {
      if (!byName.has(n)) {
        problems.push({
          pos: at(s.name, i),
          message: `stage "${s.name}" needs unknown stage "${n}" (stages: ${
            [...byName.keys()].join(", ")
          })`,
        });
      } else if (s.needs.indexOf(n) !== i) {
        problems.push({
          pos: at(s.name, i),
          message: `stage "${s.name}" lists "${n}" twice in needs`,
        });
      }
    });
  }
  if (problems.length) return { problems };

  // Depth-first search; a grey node met again closes a cycle.
  const colour = new Map<string, "grey" | "black">();
  const stack: string[] = [];
  const seenCycles = new Set<string>();
  const visit = (name: string): void => {
    colour.set(name, "grey");
    stack.push(name);
    const s = byName.get(name)!;
    s.needs.forEach((n, i) => {
      if (colour.get(n) === "grey") {
        const cycle = [...stack.slice(stack.indexOf(n)), n];
        const id = [...new Set(cycle)].sort().join(",");
        if (!seenCycles.has(id)) {
          seenCycles.add(id);
          problems.push({
            pos: at(name, i),
            message: `cycle in needs: ${cycle.join(" -> ")}`,
          });
        }
      } else if (!colour.has(n)) visit(n);
    });
    stack.pop();
    colour.set(name, "black");
  };
  for (const s of spec.stages) if (!colour.has(s.name)) visit(s.name);
  if (problems.length) return { problems };

  // Kahn's algorithm, always taking the earliest ready stage in file order.
  const order: StageSpec[] = [];
  const done = new Set<string>();
  while (order.length < spec.stages.length) {
    const next = spec.stages.find((s) => !done.has(s.name) && s.needs.every((n) => done.has(n)))!;
    order.push(next);
    done.add(next.name);
  }
  return { order };
}
