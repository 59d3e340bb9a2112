/**
 * A parsed YAML file that remembers where every value came from, so that errors found long
 * after parsing (a zod issue on a merged parameter, a cycle in `needs`) can still point at
 * `file:line:column`.
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from "yaml";
import type { Problem, SourcePos } from "./errors.ts";

/** A path into the YAML value: map keys and sequence indices. */
export type YamlPath = readonly (string | number)[];

/** A YAML document with positions. */
export class YamlSource {
  /** Syntax errors and duplicate keys found while parsing. */
  readonly problems: Problem[] = [];
  /** The document as plain JavaScript values. */
  readonly value: unknown;

  private constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {
    for (const e of doc.errors) {
      const lp = lines.linePos(e.pos[0]);
      this.problems.push({
        pos: { file, line: lp.line, col: lp.col },
        message: `YAML syntax error: ${
          e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")
        }`,
      });
    }
    if (this.problems.length === 0) this.findDuplicateKeys(doc.contents, []);
    this.value = this.problems.length === 0 ? doc.toJS() : null;
  }

  /** Parses `text`; `file` is the path shown in messages. */
  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
    return new YamlSource(file, doc, lines);
  }

  /** True when `path` names a value present in the file. */
  has(path: YamlPath): boolean {
    return this.walk(path).depth === path.length;
  }

  /**
   * Position of the value at `path`, or of its key with `key: true`. A path that does not
   * exist resolves to its deepest existing ancestor.
   */
  pos(path: YamlPath, opts: { key?: boolean } = {}): SourcePos {
    return this.locate([path], opts);
  }

  /**
   * Like {@link pos} over several candidate paths (e.g. a profile override, then the base
   * value): the first that exists wins, else the candidate with the deepest existing ancestor.
   */
  locate(candidates: YamlPath[], opts: { key?: boolean } = {}): SourcePos {
    let best: { node: Node | null; depth: number } = { node: null, depth: -1 };
    for (const path of candidates) {
      const w = this.walk(path);
      if (w.depth === path.length) {
        return this.at(opts.key && w.key ? w.key : w.node);
      }
      if (w.depth > best.depth) best = w;
    }
    return this.at(best.node);
  }

  private at(node: Node | null | undefined): SourcePos {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  /** Follows `path` as far as it exists: the last node reached, its key node, and how deep. */
  private walk(path: YamlPath): { node: Node | null; key: Node | null; depth: number } {
    let node = this.resolve(this.doc.contents);
    let key: Node | null = null;
    let depth = 0;
    for (const seg of path) {
      let next: Node | null = null;
      let nextKey: Node | null = null;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (isScalar(pair.key) && String(pair.key.value) === String(seg)) {
            next = this.resolve(pair.value as Node | null);
            nextKey = pair.key;
            if (!next) next = pair.key; // `key:` with no value: point at the key
          }
        }
      } else if (isSeq(node) && typeof seg === "number") {
        next = this.resolve(node.items[seg] as Node | null);
      }
      if (!next) break;
      node = next;
      key = nextKey;
      depth++;
    }
    return { node, key, depth };
  }

  private resolve(node: Node | null | undefined): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node ?? null;
  }

  private findDuplicateKeys(node: unknown, path: (string | number)[]): void {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : null;
        if (k !== null) {
          const first = seen.get(k);
          if (first) {
            const firstLine = this.at(first).line;
            const what = path.length === 1 && path[0] === "stages"
              ? `duplicate stage id "${k}" (first defined at line ${firstLine})`
              : `duplicate key "${k}" in ${
                path.join(".") || "the top level"
              } (first at line ${firstLine})`;
            this.problems.push({ pos: this.at(pair.key as Node), message: what });
          } else seen.set(k, pair.key as Node);
        }
        this.findDuplicateKeys(pair.value, k === null ? path : [...path, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.findDuplicateKeys(item, [...path, i]));
    }
  }
}
