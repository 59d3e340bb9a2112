/** Renders the gate's rows as a Markdown table and as JUnit XML for CI systems. */
import type { CheckRow } from "./compare.ts";

const fmt = (x: number | null) => (x === null ? "—" : x.toFixed(2));

/** A Markdown summary: one line verdict, then expected / got / tolerance per check. */
export function checksToMarkdown(title: string, rows: CheckRow[]): string {
  const failed = rows.filter((r) => r.status === "fail").length;
  const lines = [
    `## ${title}: ${failed === 0 ? "PASS" : `FAIL (${failed} of ${rows.length} checks)`}`,
    "",
    "| check | expected | got | tolerance | lowest passing | status | note |",
    "|---|---:|---:|---:|---:|---|---|",
    ...rows.map((r) =>
      `| ${r.name} | ${fmt(r.expected)} | ${fmt(r.got)} | ${fmt(r.tolerance)} | ${
        fmt(r.min)
      } | ${r.status} | ${r.note.replaceAll("|", "\\|")} |`
    ),
  ];
  return lines.join("\n") + "\n";
}

/** A plain-text table for the terminal. */
export function checksToText(rows: CheckRow[]): string {
  const header = ["check", "expected", "got", "tolerance", "min", "status", "note"];
  const body = rows.map((r) => [
    r.name,
    fmt(r.expected),
    fmt(r.got),
    fmt(r.tolerance),
    fmt(r.min),
    r.status.toUpperCase(),
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n") + "\n";
}

function xmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** JUnit XML: one test case per check, a failure element on each failed one. */
export function checksToJUnit(suite: string, rows: CheckRow[], seconds: number): string {
  const failures = rows.filter((r) => r.status === "fail").length;
  const cases = rows.map((r) => {
    const head = `    <testcase classname="${xmlEscape(suite)}" name="${
      xmlEscape(r.name)
    }" time="0">`;
    if (r.status === "pass") return `${head}</testcase>`;
    const msg = `expected >= ${fmt(r.min)} (baseline ${fmt(r.expected)} ± ${
      fmt(r.tolerance)
    }), got ${fmt(r.got)}: ${r.note}`;
    return `${head}\n      <failure message="${xmlEscape(msg)}"/>\n    </testcase>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites tests="${rows.length}" failures="${failures}" time="${seconds.toFixed(1)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${rows.length}" failures="${failures}" time="${
      seconds.toFixed(1)
    }">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}
