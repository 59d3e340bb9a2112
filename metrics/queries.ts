/**
 * The read queries reports use. All take an open connection (inside `MetricsDb.read`) and
 * return plain objects.
 */
import { type DuckDBConnection, LIST, listValue, VARCHAR } from "@duckdb/node-api";

/** One row of `runs`, as reports show it. */
export interface RunMeta {
  run: string;
  experiment: string;
  profile: string | null;
  stageId: string;
  kind: string;
  method: string | null;
  dataset: string | null;
  params: Record<string, unknown>;
  backend: string | null;
  device: string | null;
  gitCommit: string | null;
  started: string | null;
  finished: string | null;
  status: string;
  /** Wall time from started to finished, when both are known. */
  seconds: number | null;
}

/** One result of one run. */
export interface ResultRow {
  run: string;
  name: string;
  value: number | null;
}

/** The mean of one metric over one epoch of one run. */
export interface EpochPoint {
  run: string;
  name: string;
  epoch: number;
  value: number;
}

/** SQL rendering timestamp column `col` as an ISO string in UTC. */
const iso = (col: string) => `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%gZ')`;

/** The `runs` rows of `ids` (missing ids are simply absent), ordered by stage id. */
export async function runsByIds(con: DuckDBConnection, ids: string[]): Promise<RunMeta[]> {
  const reader = await con.runAndReadAll(
    `SELECT run, experiment, profile, stage_id, kind, method, dataset, params::VARCHAR,
            backend, device, git_commit, ${iso("started")},
            ${iso("finished")}, status,
            epoch_ms(finished) - epoch_ms(started)
     FROM runs WHERE list_contains($1, run) ORDER BY stage_id, run`,
    [listValue(ids)],
    [LIST(VARCHAR)],
  );
  return reader.getRowsJson().map((r) => ({
    run: String(r[0]),
    experiment: String(r[1]),
    profile: r[2] as string | null,
    stageId: String(r[3]),
    kind: String(r[4]),
    method: r[5] as string | null,
    dataset: r[6] as string | null,
    params: JSON.parse(String(r[7])),
    backend: r[8] as string | null,
    device: r[9] as string | null,
    gitCommit: r[10] as string | null,
    started: r[11] as string | null,
    finished: r[12] as string | null,
    status: String(r[13]),
    seconds: r[14] === null ? null : Number(r[14]) / 1000,
  }));
}

/**
 * Ids of the newest successful run per kind/method/dataset of `experiment` (and `profile`,
 * null meaning "no profile"), from the `latest_runs` view.
 */
export async function latestRunIds(
  con: DuckDBConnection,
  experiment: string,
  profile: string | null,
): Promise<string[]> {
  const reader = await con.runAndReadAll(
    `SELECT run FROM latest_runs WHERE experiment = $1 AND profile IS NOT DISTINCT FROM $2
     ORDER BY run`,
    [experiment, profile],
    [VARCHAR, VARCHAR],
  );
  return reader.getRowsJson().map((r) => String(r[0]));
}

/** Experiments (with profile) the database knows, newest first. */
export async function listExperiments(
  con: DuckDBConnection,
): Promise<{ experiment: string; profile: string | null; finished: string | null }[]> {
  const reader = await con.runAndReadAll(
    `SELECT experiment, profile, ${iso("max(finished)")}
     FROM runs GROUP BY experiment, profile ORDER BY max(finished) DESC NULLS LAST`,
  );
  return reader.getRowsJson().map((r) => ({
    experiment: String(r[0]),
    profile: r[1] as string | null,
    finished: r[2] as string | null,
  }));
}

/** Every result of the runs `ids`. */
export async function resultsFor(con: DuckDBConnection, ids: string[]): Promise<ResultRow[]> {
  const reader = await con.runAndReadAll(
    `SELECT run, name, value FROM results WHERE list_contains($1, run) ORDER BY run, name`,
    [listValue(ids)],
    [LIST(VARCHAR)],
  );
  return reader.getRowsJson().map((r) => ({
    run: String(r[0]),
    name: String(r[1]),
    value: r[2] === null ? null : Number(r[2]),
  }));
}

/**
 * Per-epoch means of the metrics `names` for the runs `ids` (samples without an epoch and
 * NULL values are left out).
 */
export async function epochMeans(
  con: DuckDBConnection,
  ids: string[],
  names: string[],
): Promise<EpochPoint[]> {
  const reader = await con.runAndReadAll(
    `SELECT run, name, epoch, avg(value) FROM metrics
     WHERE list_contains($1, run) AND list_contains($2, name) AND epoch IS NOT NULL
       AND value IS NOT NULL
     GROUP BY run, name, epoch ORDER BY run, name, epoch`,
    [listValue(ids), listValue(names)],
    [LIST(VARCHAR), LIST(VARCHAR)],
  );
  return reader.getRowsJson().map((r) => ({
    run: String(r[0]),
    name: String(r[1]),
    epoch: Number(r[2]),
    value: Number(r[3]),
  }));
}
