/**
 * Writes a whole report folder: `index.html`, `table.svg`, `table.png`, `curves.svg`,
 * `curves.png`, `table.md`, `summary.json`. The folder is built next to its destination and
 * swapped in with renames, so a reader never sees half a report.
 */
import { basename, dirname, join } from "node:path";
import type { ReportData } from "./data.ts";
import { LINEAR_PANELS, TRAINING_PANELS } from "./data.ts";
import { readVegaBundles, reportHtml } from "./html.ts";
import { tableMarkdown } from "./markdown.ts";
import { renderSvg, svgToPng } from "./render.ts";
import { curvesSpec, tableSpec } from "./specs.ts";
import { buildSummary } from "./summary.ts";

/** The files of a report folder, in the order they are written. */
export const REPORT_FILES = [
  "index.html",
  "table.svg",
  "table.png",
  "curves.svg",
  "curves.png",
  "table.md",
  "summary.json",
] as const;

/** Pixel scale of the PNG files relative to their SVG size. */
export const PNG_SCALE = 2;

/** A rendered report: file name -> content. */
export type ReportFiles = Record<(typeof REPORT_FILES)[number], string | Uint8Array>;

/** Renders every report file for `data` in memory. */
export async function renderReport(data: ReportData): Promise<ReportFiles> {
  const trainingPanels = TRAINING_PANELS.map((p) => p[2]);
  const linearPanels = LINEAR_PANELS.map((p) => p[2]);
  const specs = {
    table: tableSpec(data.table),
    training: curvesSpec(data.training, trainingPanels, "Pretraining, per epoch"),
    linear: curvesSpec(data.linear, linearPanels, "Linear evaluation, per epoch"),
  };
  const allCurves = curvesSpec(
    [...data.training, ...data.linear],
    [...trainingPanels, ...linearPanels],
    "Training curves, per epoch",
  );
  const tableSvg = await renderSvg(specs.table);
  const curvesSvg = await renderSvg(allCurves);
  return {
    "index.html": reportHtml(data, specs, await readVegaBundles()),
    "table.svg": tableSvg,
    "table.png": svgToPng(tableSvg, PNG_SCALE).bytes,
    "curves.svg": curvesSvg,
    "curves.png": svgToPng(curvesSvg, PNG_SCALE).bytes,
    "table.md": tableMarkdown(data.table, `${data.experiment}: linear evaluation`),
    "summary.json": JSON.stringify(buildSummary(data), null, 2) + "\n",
  };
}

/** Renders every report file for `data` into `dir` (replaced as a whole). */
export async function writeReport(dir: string, data: ReportData): Promise<string[]> {
  return await writeReportFiles(dir, await renderReport(data));
}

/** Writes rendered files as the folder `dir`, replacing any previous one by renames. */
export async function writeReportFiles(dir: string, files: ReportFiles): Promise<string[]> {
  const parent = dirname(dir);
  await Deno.mkdir(parent, { recursive: true });
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const staging = join(parent, `.${basename(dir)}.tmp-${tag}`);
  await Deno.mkdir(staging);
  try {
    for (const name of REPORT_FILES) {
      const content = files[name];
      if (typeof content === "string") await Deno.writeTextFile(join(staging, name), content);
      else await Deno.writeFile(join(staging, name), content);
    }
    const old = join(parent, `.${basename(dir)}.old-${tag}`);
    const hadOld = await Deno.rename(dir, old).then(() => true, (e) => {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    });
    await Deno.rename(staging, dir);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
  return REPORT_FILES.map((f) => join(dir, f));
}
