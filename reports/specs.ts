/**
 * Vega-Lite specifications of the report's figures: the reproduction table (text cells with
 * the delta column coloured) and the per-epoch curves. Pure functions from report data to
 * JSON specs; rendering lives in `render.ts` (headless) and `html.ts` (in the browser).
 */
import type { TopLevelSpec } from "vega-lite";
import { DATASET_COLUMNS } from "./markdown.ts";
import { fmtDelta, fmtPair, type ReportTable } from "./table.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

/** Shared look: a sans-serif font available to both resvg and browsers, no frame. */
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { grid: false, labelFontSize: 11 },
  background: "white",
};

/** Δ top-1 colours: red when below the paper, yellow at par, green above (clamped at ±5). */
export const DELTA_SCALE = {
  domain: [-5, 0, 5],
  range: ["#d73027", "#ffffbf", "#1a9850"],
  clamp: true,
};

/** The layer colouring the Δ cells. */
const deltaLayer = {
  transform: [{ filter: "datum.delta !== null" }],
  mark: { type: "rect" },
  encoding: {
    color: {
      field: "delta",
      type: "quantitative",
      scale: DELTA_SCALE,
      legend: { title: "Δ top-1 (points)" },
    },
  },
};

/** One cell of the table figure. */
interface TableCell {
  dataset: string;
  method: string;
  column: string;
  text: string;
  delta: number | null;
}

/** The reproduction table as a faceted grid of text cells (one facet column per dataset). */
export function tableSpec(
  table: ReportTable,
  title = "Linear evaluation: paper vs ours",
): TopLevelSpec {
  const cells: TableCell[] = [];
  for (const d of table.datasets) {
    for (const m of table.methods) {
      const e = table.entries.find((x) => x.method === m.key && x.dataset === d.key);
      const texts = [
        fmtPair(e?.paper ?? null),
        fmtPair(e?.best ?? null),
        fmtDelta(e?.deltaTop1 ?? null),
        fmtPair(e?.final ?? null),
        fmtPair(e?.knn ?? null),
      ];
      DATASET_COLUMNS.forEach((column, i) =>
        cells.push({
          dataset: d.label,
          method: m.label,
          column,
          text: texts[i],
          delta: column === "Δ top-1" ? e?.deltaTop1 ?? null : null,
        })
      );
    }
  }
  return {
    $schema: SCHEMA,
    title: { text: title, anchor: "start", fontSize: 14 },
    data: { values: cells },
    facet: {
      column: {
        field: "dataset",
        type: "nominal",
        sort: table.datasets.map((d) => d.label),
        header: { title: null, labelFontSize: 13, labelFontWeight: "bold" },
      },
    },
    spec: {
      width: { step: 112 },
      height: { step: 24 },
      encoding: {
        x: {
          field: "column",
          type: "nominal",
          sort: DATASET_COLUMNS,
          axis: { orient: "top", title: null, labelAngle: 0, domain: false, ticks: false },
        },
        y: {
          field: "method",
          type: "nominal",
          sort: table.methods.map((m) => m.label),
          axis: { title: null, domain: false, ticks: false, labelFontWeight: "bold" },
        },
      },
      layer: [
        // The coloured Δ cells (and their legend) only when some delta exists.
        ...(cells.some((c) => c.delta !== null) ? [deltaLayer] : []),
        { mark: { type: "text", fontSize: 11 }, encoding: { text: { field: "text" } } },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** One per-epoch value of one run's metric. */
export interface CurvePoint {
  /** Panel title, e.g. "pretrain loss". */
  panel: string;
  method: string;
  epoch: number;
  value: number;
}

/**
 * Line charts of per-epoch values, one row per panel (independent y scales), one colour per
 * method. With no points at all, a one-line message instead of empty axes.
 */
export function curvesSpec(points: CurvePoint[], panels: string[], title: string): TopLevelSpec {
  if (points.length === 0) {
    return {
      $schema: SCHEMA,
      title: { text: title, anchor: "start", fontSize: 14 },
      data: { values: [{ text: "no per-epoch metrics were recorded for these runs" }] },
      mark: { type: "text", align: "left", fontSize: 12 },
      encoding: { text: { field: "text" } },
      width: 400,
      height: 30,
      config: CONFIG,
    } as TopLevelSpec;
  }
  const used = panels.filter((p) => points.some((x) => x.panel === p));
  // The paper's table has 12 (method, dataset) series: ten colours would repeat.
  const series = new Set(points.map((x) => x.method)).size;
  return {
    $schema: SCHEMA,
    title: { text: title, anchor: "start", fontSize: 14 },
    data: { values: points },
    facet: {
      row: {
        field: "panel",
        type: "nominal",
        sort: used,
        header: { title: null, labelAngle: 0, labelAlign: "left" },
      },
    },
    spec: {
      width: 520,
      height: 150,
      mark: { type: "line", point: { size: 18 } },
      encoding: {
        x: {
          field: "epoch",
          type: "quantitative",
          title: "epoch",
          axis: { tickMinStep: 1, format: "d" },
        },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: {
          field: "method",
          type: "nominal",
          title: "method",
          scale: { scheme: series > 10 ? "tableau20" : "tableau10" },
          legend: { labelLimit: 280 },
        },
      },
    },
    resolve: { scale: { y: "independent", x: "independent" }, axis: { x: "independent" } },
    config: CONFIG,
  } as TopLevelSpec;
}
