/**
 * What a run tells its user while it works: stage log lines, warnings, and progress of long
 * stages (step, total, rate, ETA). On a terminal progress is one live line redrawn in place;
 * otherwise (CI, pipes) it is a plain line per running stage every few seconds.
 */
import type { Progress } from "./types.ts";

/** Receives everything a run reports. */
export interface RunUi {
  /** An engine message (stage cached, started, finished, waiting for a lock, ...). */
  info(message: string): void;
  /** Something the user should notice (corrupt cache entry, ...). */
  warn(message: string): void;
  /** A log line of a running stage. */
  stageLog(id: string, line: string): void;
  stageStart(id: string): void;
  stageProgress(id: string, p: Progress): void;
  stageEnd(id: string): void;
  /** Stops timers and clears the live line. */
  close(): void;
}

/** Options for {@link ConsoleUi}. */
export interface ConsoleUiOptions {
  /** Redraw one live line (terminal) instead of printing periodic lines. */
  live: boolean;
  /** Interval of the periodic progress lines when not live, in ms. */
  intervalMs: number;
  /** Where to write (default: standard error). */
  write?: (text: string) => void;
}

interface Track {
  started: number;
  first?: { step: number; t: number };
  last?: Progress & { t: number };
  printed?: number;
}

const encoder = new TextEncoder();

/** Formats seconds as `42s`, `3m05s` or `1h02m`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Formats one stage's progress: `120/500 (24%) 12.1 step/s ETA 31s loss 0.52`. */
export function formatProgress(p: Progress, rate: number | null): string {
  const parts = [
    p.total ? `${p.step}/${p.total} (${Math.floor((100 * p.step) / p.total)}%)` : `${p.step}`,
  ];
  if (rate !== null && rate > 0) {
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toPrecision(2)} ${p.unit ?? "step"}/s`);
    if (p.total) parts.push(`ETA ${formatDuration((p.total - p.step) / rate)}`);
  }
  if (p.message) parts.push(p.message);
  return parts.join(" ");
}

/** The console renderer used by the CLI. */
export class ConsoleUi implements RunUi {
  #tracks = new Map<string, Track>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Live mode: redraws once a second so running stages show their elapsed time. */
  #tick: ReturnType<typeof setInterval> | undefined;
  #lineShown = false;
  #write: (text: string) => void;

  constructor(private readonly opts: ConsoleUiOptions) {
    this.#write = opts.write ?? ((t) => Deno.stderr.writeSync(encoder.encode(t)));
    if (!opts.live) this.#timer = setInterval(() => this.#printPeriodic(), opts.intervalMs);
    else this.#tick = setInterval(() => this.#scheduleRedraw(), 1000);
  }

  info(message: string): void {
    this.#line(message);
  }

  warn(message: string): void {
    this.#line(`warning: ${message}`);
  }

  stageLog(id: string, line: string): void {
    this.#line(`[${id}] ${line}`);
  }

  stageStart(id: string): void {
    this.#tracks.set(id, { started: performance.now() });
  }

  stageProgress(id: string, p: Progress): void {
    const t = this.#tracks.get(id);
    if (!t) return;
    const now = performance.now();
    // A new phase (the count goes back, or the total or unit changes) restarts the rate.
    const l = t.last;
    if (!t.first || !l || p.step < l.step || p.total !== l.total || p.unit !== l.unit) {
      t.first = { step: p.step, t: now };
    }
    t.last = { ...p, t: now };
    if (this.opts.live) this.#scheduleRedraw();
  }

  stageEnd(id: string): void {
    this.#tracks.delete(id);
    if (this.opts.live) this.#scheduleRedraw();
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#timer = this.#tick = undefined;
    this.#clearLine();
  }

  #rate(t: Track): number | null {
    if (!t.first || !t.last) return null;
    const dt = (t.last.t - t.first.t) / 1000;
    return dt > 0 ? (t.last.step - t.first.step) / dt : null;
  }

  #line(text: string): void {
    this.#clearLine();
    this.#write(text + "\n");
    if (this.opts.live) this.#drawLive();
  }

  #clearLine(): void {
    if (this.#lineShown) this.#write("\r\x1b[K");
    this.#lineShown = false;
  }

  #scheduleRedraw(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#clearLine();
      this.#drawLive();
    }, 100);
  }

  #drawLive(): void {
    const parts: string[] = [];
    for (const [id, t] of this.#tracks) {
      const elapsed = formatDuration((performance.now() - t.started) / 1000);
      parts.push(
        `${id} ${t.last ? formatProgress(t.last, this.#rate(t)) : "running"} [${elapsed}]`,
      );
    }
    if (parts.length === 0) return;
    let cols = 120;
    try {
      cols = Deno.consoleSize().columns;
    } catch { /* not a terminal after all */ }
    let text = parts.join(" | ");
    if (text.length > cols - 1) text = text.slice(0, cols - 2) + "…";
    this.#write(text);
    this.#lineShown = true;
  }

  #printPeriodic(): void {
    for (const [id, t] of this.#tracks) {
      if (t.last && t.last.t !== t.printed) {
        t.printed = t.last.t;
        this.#write(`progress ${id}: ${formatProgress(t.last, this.#rate(t))}\n`);
      }
    }
  }
}
