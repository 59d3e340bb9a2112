/**
 * The paper's reference numbers (`configs/paper.yaml`), validated: every table entry names a
 * declared method and dataset, and accuracies are percentages.
 */
import { parse } from "yaml";
import { z } from "zod";

const Accuracy = z.number().min(0).max(100);
const TopK = z.object({ top1: Accuracy, top5: Accuracy }).strict();

const PaperSchema = z.object({
  source: z.string(),
  protocol: z.enum(["best", "final"]),
  backbone: z.string(),
  datasets: z.record(z.string()),
  methods: z.record(z.string()),
  table: z.record(z.record(TopK)),
  extra: z.array(
    z.object({
      method: z.string(),
      dataset: z.string(),
      label: z.string(),
      backbone: z.string(),
      epochs: z.number().int().positive(),
      top1: Accuracy,
      top5: Accuracy,
    }).strict(),
  ).default([]),
}).strict();

/** The validated contents of `configs/paper.yaml`. */
export type PaperTable = z.output<typeof PaperSchema>;

/** Default location of the paper's numbers. */
export const PAPER_YAML = new URL("../configs/paper.yaml", import.meta.url).pathname;

/** Parses and validates the paper's table from YAML text (`file` names it in errors). */
export function parsePaperTable(text: string, file = "paper.yaml"): PaperTable {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const parsed = PaperSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const paper = parsed.data;
  for (const [method, row] of Object.entries(paper.table)) {
    if (!(method in paper.methods)) {
      throw new Error(`${file}: table.${method}: method not declared under methods`);
    }
    for (const dataset of Object.keys(row)) {
      if (!(dataset in paper.datasets)) {
        throw new Error(`${file}: table.${method}.${dataset}: dataset not declared under datasets`);
      }
    }
  }
  return paper;
}

/** Reads `configs/paper.yaml` (or `path`). */
export async function loadPaperTable(path = PAPER_YAML): Promise<PaperTable> {
  return parsePaperTable(await Deno.readTextFile(path), path);
}
