/**
 * Access to the one metrics database file. DuckDB lets a single process hold a file for
 * writing, so this module opens the file only for the duration of queued work and closes it
 * as soon as the queue is empty: two processes writing at once take turns (the second waits,
 * says so once, and retries with backoff). Within a process every caller shares one
 * `MetricsDb` per file, so stages running concurrently (`--jobs`) share one instance and
 * their writes are serialised.
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SCHEMA_SQL, TABLES, VIEWS } from "./schema.ts";

/** The engine's default cache folder: `<repository root>/.cache`. */
const DEFAULT_CACHE = fileURLToPath(new URL("../.cache", import.meta.url));

/**
 * Where the metrics database lives: `ARB_METRICS_DB`, else `metrics.duckdb` in `cacheDir`,
 * else in the cache the engine uses (`ARB_CACHE_DIR`, or `.cache/` in the repository root).
 */
export function metricsDbPath(cacheDir?: string): string {
  const explicit = Deno.env.get("ARB_METRICS_DB");
  if (explicit) return resolve(explicit);
  return resolve(cacheDir ?? defaultCacheDir(), "metrics.duckdb");
}

/** The cache folder the engine uses: `ARB_CACHE_DIR`, or `.cache/` in the repository root. */
export function defaultCacheDir(): string {
  return resolve(Deno.env.get("ARB_CACHE_DIR") || DEFAULT_CACHE);
}

/** How long to keep retrying a locked database before failing (ms); `ARB_METRICS_LOCK_TIMEOUT_MS` overrides. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;

/** Options of `MetricsDb.shared`. */
export interface MetricsDbOptions {
  /** Give up waiting for another process's lock after this many ms. */
  lockTimeoutMs?: number;
  /** Where the "waiting for lock" line goes (default: stderr). */
  log?: (message: string) => void;
}

const LOCK_ERROR = /Could not set lock on file|Conflicting lock/i;
const registry = new Map<string, MetricsDb>();

/** A serialised, open-on-demand handle on one metrics database file. */
export class MetricsDb {
  /** Absolute path of the database file. */
  readonly path: string;
  #lockTimeoutMs: number;
  #log: (message: string) => void;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #instance: DuckDBInstance | null = null;
  #con: DuckDBConnection | null = null;

  private constructor(path: string, options: MetricsDbOptions) {
    this.path = path;
    const envTimeout = Number(Deno.env.get("ARB_METRICS_LOCK_TIMEOUT_MS"));
    this.#lockTimeoutMs = options.lockTimeoutMs ??
      (Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : DEFAULT_LOCK_TIMEOUT_MS);
    this.#log = options.log ?? ((m) => console.error(m));
  }

  /** The process-wide handle for `path` (default `metricsDbPath()`). */
  static shared(path = metricsDbPath(), options: MetricsDbOptions = {}): MetricsDb {
    const abs = resolve(path);
    let db = registry.get(abs);
    if (!db) {
      db = new MetricsDb(abs, options);
      registry.set(abs, db);
    }
    return db;
  }

  /** Runs `fn` inside one transaction: all of its writes land, or none do. */
  write<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#enqueue(async (con) => {
      await con.run("BEGIN TRANSACTION");
      try {
        const out = await fn(con);
        await con.run("COMMIT");
        return out;
      } catch (e) {
        await con.run("ROLLBACK").catch(() => {});
        throw e;
      }
    });
  }

  /** Runs read-only work `fn` (no transaction of its own). */
  read<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#enqueue(fn);
  }

  #enqueue<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    this.#pending++;
    const job = this.#queue.then(async () => {
      try {
        return await fn(await this.#connection());
      } finally {
        if (--this.#pending === 0) this.#release();
      }
    });
    this.#queue = job.catch(() => {});
    return job;
  }

  async #connection(): Promise<DuckDBConnection> {
    if (this.#con) return this.#con;
    await Deno.mkdir(dirname(this.path), { recursive: true });
    const instance = await this.#openWithRetry();
    try {
      const con = await instance.connect();
      await con.run("SET TimeZone = 'UTC'");
      await ensureSchema(con);
      this.#instance = instance;
      this.#con = con;
      return con;
    } catch (e) {
      instance.closeSync();
      throw e;
    }
  }

  async #openWithRetry(): Promise<DuckDBInstance> {
    const start = Date.now();
    let delay = 20;
    let announced = false;
    while (true) {
      try {
        return await DuckDBInstance.create(this.path);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (!LOCK_ERROR.test(message)) {
          throw new Error(
            `cannot open metrics database ${this.path}: ${message}\n` +
              `If the file is damaged, delete it and run \`deno task metrics rebuild\`.`,
          );
        }
        const waited = Date.now() - start;
        if (waited > this.#lockTimeoutMs) {
          throw new Error(
            `metrics database ${this.path} stayed locked by another process for ${
              Math.round(waited / 1000)
            } s: ${message}`,
          );
        }
        if (!announced) {
          this.#log(
            `waiting for metrics database lock held by another process: ${this.path}`,
          );
          announced = true;
        }
        // Jitter keeps two waiting processes from retrying in lockstep.
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  #release(): void {
    this.#con?.closeSync();
    this.#instance?.closeSync();
    this.#con = null;
    this.#instance = null;
  }
}

async function ensureSchema(con: DuckDBConnection): Promise<void> {
  const reader = await con.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`,
  );
  const present = new Set(reader.getRowsJson().map((r) => String(r[0])));
  if ([...TABLES, ...VIEWS].every((t) => present.has(t))) return;
  await con.run(SCHEMA_SQL);
}
