/**
 * `index.html`: one self-contained page (vega, vega-lite and vega-embed inlined from their
 * pinned npm builds, specs and data embedded) that opens offline in any browser.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportData } from "./data.ts";
import { PROTOCOLS } from "./summary.ts";
import { fmt, labelOf } from "./table.ts";

/** The three UMD bundles, in load order (vega-lite needs vega; vega-embed needs both). */
const BUNDLES = [
  ["vega", "build/vega.min.js"],
  ["vega-lite", "build/vega-lite.min.js"],
  ["vega-embed", "build/vega-embed.min.js"],
] as const;

/** Reads the pinned bundles from `node_modules` (needs `deno install` to have run). */
export async function readVegaBundles(): Promise<
  { name: string; version: string; code: string }[]
> {
  const out = [];
  for (const [name, file] of BUNDLES) {
    const root = new URL(`../node_modules/${name}/`, import.meta.url);
    let code: string, version: string;
    try {
      code = await Deno.readTextFile(new URL(file, root));
      version = JSON.parse(await Deno.readTextFile(new URL("package.json", root))).version;
    } catch (e) {
      throw new Error(
        `cannot read ${name}/${file} from ${root.pathname} (${(e as Error).message}); ` +
          "run `deno install` in the project root",
      );
    }
    // Source-map comments would make browsers look for files that are not there.
    out.push({ name, version, code: code.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "") });
  }
  return out;
}

/** Escapes text for HTML element content and attribute values. */
export function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside a `<script>` element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

/** Builds the page around the three figure specs. */
export function reportHtml(
  data: ReportData,
  specs: { table: TopLevelSpec; training: TopLevelSpec; linear: TopLevelSpec },
  bundles: { name: string; version: string; code: string }[],
): string {
  const title = `ARB reproduction: ${data.experiment}${data.profile ? ` (${data.profile})` : ""}`;
  const scripts = bundles.map((b) =>
    `<script>/* ${esc(b.name)} ${esc(b.version)} */\n${
      b.code.replace(/<\/script/gi, "<\\/script")
    }\n</script>`
  ).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table.plain { border-collapse: collapse; font-size: 0.85em; }
table.plain th, table.plain td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; }
table.plain td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; } .muted { color: #666; font-size: 0.9em; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="muted">Generated ${esc(data.generated)} from <code>${esc(data.dbPath)}</code>.
Paper: ${esc(data.paper.source)}.</p>

<h2>Reproduced table</h2>
<div id="table-figure"></div>
<ul class="muted">
${Object.entries(PROTOCOLS).map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`).join("\n")}
</ul>

<h2>The paper's table</h2>
${paperTableHtml(data)}

<h2>Training curves</h2>
<div id="training-figure"></div>

<h2>Linear evaluation per epoch</h2>
<div id="linear-figure"></div>

<h2>Runs</h2>
${runsTableHtml(data)}

<p class="muted">Also in this folder: <code>table.md</code>, <code>table.svg</code>,
<code>table.png</code>, <code>curves.svg</code>, <code>curves.png</code>,
<code>summary.json</code>.</p>

${scripts}
<script type="application/json" id="report-specs">${scriptJson(specs)}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById("report-specs").textContent);
  var targets = { table: "#table-figure", training: "#training-figure", linear: "#linear-figure" };
  Object.keys(targets).forEach(function (key) {
    vegaEmbed(targets[key], specs[key], { renderer: "svg", actions: false }).catch(function (e) {
      console.error("figure " + key + " failed: " + e);
    });
  });
})();
</script>
</body>
</html>
`;
}

function paperTableHtml(data: ReportData): string {
  const { paper } = data;
  const datasets = Object.entries(paper.datasets);
  const rows = Object.entries(paper.methods).map(([key, label]) =>
    `<tr><th>${esc(label)}</th>${
      datasets.map(([d]) => {
        const v = paper.table[key]?.[d];
        return `<td class="num">${v ? `${fmt(v.top1)} (${fmt(v.top5)})` : "—"}</td>`;
      }).join("")
    }</tr>`
  );
  const extra = paper.extra.map((x) =>
    `<li>${esc(labelOf(x.method, paper.methods))}, ${esc(x.label)}: ${fmt(x.top1)} top-1, ${
      fmt(x.top5)
    } top-5</li>`
  ).join("");
  return `<table class="plain"><thead><tr><th>Method (${esc(paper.backbone)})</th>${
    datasets.map(([, l]) => `<th>${esc(l)}</th>`).join("")
  }</tr></thead><tbody>${rows.join("")}</tbody></table>
<p class="muted">Linear top-1 (top-5), %, best epoch.</p>${extra ? `<ul>${extra}</ul>` : ""}`;
}

function runsTableHtml(data: ReportData): string {
  const head = [
    "stage",
    "kind",
    "method",
    "dataset",
    "backend",
    "device",
    "status",
    "seconds",
    "started",
    "commit",
    "cache key",
  ];
  const rows = data.runs.map((r) =>
    `<tr>${
      [
        r.stageId,
        r.kind,
        r.method ?? "",
        r.dataset ?? "",
        r.backend ?? "",
        r.device ?? "",
        r.status,
        r.seconds === null ? "" : r.seconds.toFixed(1),
        r.started ?? "",
        r.gitCommit ? r.gitCommit.slice(0, 12) : "",
      ].map((c) => `<td>${esc(c)}</td>`).join("")
    }<td><code>${esc(r.run)}</code></td></tr>`
  );
  return `<table class="plain"><thead><tr>${
    head.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}
