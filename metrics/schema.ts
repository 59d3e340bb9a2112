/**
 * The metrics database schema: `runs` (one row per stage run, keyed by its cache key),
 * `metrics` (time series samples), `results` (final numbers), and the views that reports
 * query. Creating it is idempotent, so every writer runs `SCHEMA_SQL` on open.
 */

/** Tables of the metrics database, in creation order. */
export const TABLES = ["runs", "metrics", "results"] as const;

/** Views of the metrics database. */
export const VIEWS = ["latest_runs", "latest_results"] as const;

/**
 * DDL for the whole database. `run` is the stage instance's cache key everywhere (and
 * `runs.cache_key` repeats it, so queries read naturally). No foreign keys: a sample may
 * arrive before its run row is final, and ingest replaces runs wholesale.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS runs (
  run VARCHAR PRIMARY KEY,
  experiment VARCHAR NOT NULL,
  profile VARCHAR,
  stage_id VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  method VARCHAR,
  dataset VARCHAR,
  cache_key VARCHAR NOT NULL,
  params JSON NOT NULL,
  backend VARCHAR,
  device VARCHAR,
  git_commit VARCHAR,
  started TIMESTAMPTZ,
  finished TIMESTAMPTZ,
  status VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
  run VARCHAR NOT NULL,
  step BIGINT,
  epoch INTEGER,
  name VARCHAR NOT NULL,
  value DOUBLE,
  time TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
  run VARCHAR NOT NULL,
  name VARCHAR NOT NULL,
  value DOUBLE,
  PRIMARY KEY (run, name)
);
-- The newest successful run per experiment, profile, stage kind, method and dataset
-- (profile is part of the key so a smoke run never shadows a full one).
CREATE OR REPLACE VIEW latest_runs AS
SELECT * FROM runs
WHERE status = 'ok'
QUALIFY row_number() OVER (
  PARTITION BY experiment, profile, kind, method, dataset
  ORDER BY finished DESC NULLS LAST, run
) = 1;
-- Every result of those runs, with the columns a report groups by.
CREATE OR REPLACE VIEW latest_results AS
SELECT r.experiment, r.profile, r.kind, r.method, r.dataset, r.stage_id, r.run,
       r.finished, x.name, x.value
FROM latest_runs r JOIN results x USING (run);
`;
