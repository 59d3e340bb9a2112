/**
 * The reproduction table as Markdown (`table.md`), ready for a paper or a pull request.
 * One row per method; per dataset the paper's top-1 (top-5), ours at the best epoch (the
 * paper's protocol), the delta in top-1, ours at the final epoch, and kNN.
 */
import { fmtDelta, fmtPair, type ReportTable } from "./table.ts";

/** Column headers per dataset, in order. */
export const DATASET_COLUMNS = ["paper", "ours (best)", "Δ top-1", "ours (final)", "kNN"];

/** Renders the table as GitHub-flavoured Markdown, with a legend line under it. */
export function tableMarkdown(table: ReportTable, title?: string): string {
  const header = ["Method"];
  for (const d of table.datasets) for (const c of DATASET_COLUMNS) header.push(`${d.label} ${c}`);
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  for (const m of table.methods) {
    const cells = [m.label];
    for (const d of table.datasets) {
      const e = table.entries.find((x) => x.method === m.key && x.dataset === d.key);
      cells.push(
        fmtPair(e?.paper ?? null),
        fmtPair(e?.best ?? null),
        fmtDelta(e?.deltaTop1 ?? null),
        fmtPair(e?.final ?? null),
        fmtPair(e?.knn ?? null),
      );
    }
    lines.push(`| ${cells.join(" | ")} |`);
  }
  const legend = 'Linear-probe top-1 (top-5) accuracy in %, test split. "best": best epoch ' +
    'of the linear probe (the paper\'s protocol); "final": last epoch; Δ: ours (best) minus ' +
    "the paper's top-1; kNN: weighted k-nearest neighbours (k = 200, T = 0.1) on frozen features.";
  return `${title ? `## ${title}\n\n` : ""}${lines.join("\n")}\n\n${legend}\n`;
}
