// The SQL of the PostgreSQL storage: the schema as a numbered list of migrations, and every
// statement PostgresStorage prepares once per connection, indexed by the Sql enum (the layout of
// the database in one place, as sqlite_schema.hpp is for SQLite).
#pragma once

#include <array>
#include <cstddef>

namespace krill::store::postgres {

// The schema is its list of migrations, as SQLite's is: kMigrations[v] takes a database of
// version v to v + 1 in one transaction that also writes the new version, and a new database runs
// them all from 0. The list starts at the layout SQLite reached with its version 4 (leases,
// decisions with their parameters): PostgreSQL version 1 is SQLite version 4, and a later change
// of layout appends a migration to both lists.
//
// Values are DOUBLE PRECISION, which keeps -0.0, NaN and the infinities. Parameter values are TEXT
// beside their kind: a float's shortest round-trip text, an integer's digits, or the string, so
// that one column holds all three exactly. A trial's value NaN is stored as NULL ("no value"), as
// SQLite stores it.
inline constexpr const char* kCreateV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('program', 'krill'), ('schema_version', '0');
CREATE TABLE studies (
  id              BIGSERIAL PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  direction       TEXT NOT NULL,  -- minimize | maximize
  objective       TEXT NOT NULL,
  space           TEXT NOT NULL,  -- SearchSpace::fingerprint()
  sampler         TEXT NOT NULL,
  config          TEXT NOT NULL,
  n_trials        BIGINT NOT NULL,
  created         DOUBLE PRECISION NOT NULL,  -- seconds since the epoch
  -- The counts a claim needs, kept by triggers (counting rows would cost O(trials) per claim).
  trials_held     BIGINT NOT NULL DEFAULT 0,
  trials_finished BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE runs (
  id        TEXT PRIMARY KEY,  -- random hex
  study_id  BIGINT NOT NULL REFERENCES studies (id),
  host      TEXT NOT NULL,
  pid       BIGINT NOT NULL,
  pid_start BIGINT NOT NULL,   -- the process's start time on its host (0: unknown)
  started   DOUBLE PRECISION NOT NULL,
  heartbeat DOUBLE PRECISION NOT NULL
);
CREATE INDEX runs_by_study ON runs (study_id);
CREATE TABLE trials (
  study_id BIGINT NOT NULL REFERENCES studies (id),
  number   BIGINT NOT NULL,
  state    TEXT NOT NULL,     -- running | completed | stopped | failed | diverged
  value    DOUBLE PRECISION,  -- the objective; NULL: none
  error    TEXT NOT NULL DEFAULT '',
  started  DOUBLE PRECISION,
  finished DOUBLE PRECISION,
  worker   INTEGER NOT NULL,
  owner    TEXT NOT NULL DEFAULT '',  -- a runs.id, or a gone run's
  requeues BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (study_id, number)
);
CREATE INDEX trials_running ON trials (study_id, number) WHERE state = 'running';
CREATE TABLE params (
  study_id BIGINT NOT NULL,
  number   BIGINT NOT NULL,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('float', 'int', 'string')),
  value    TEXT NOT NULL,
  PRIMARY KEY (study_id, number, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
);
CREATE TABLE attrs (
  study_id BIGINT NOT NULL,
  number   BIGINT NOT NULL,
  key      TEXT NOT NULL,
  value    DOUBLE PRECISION,
  PRIMARY KEY (study_id, number, key),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
);
CREATE TABLE reports (
  study_id BIGINT NOT NULL,
  number   BIGINT NOT NULL,
  step     BIGINT NOT NULL,
  value    DOUBLE PRECISION,
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
);
CREATE TABLE report_metrics (
  study_id BIGINT NOT NULL,
  number   BIGINT NOT NULL,
  step     BIGINT NOT NULL,
  name     TEXT NOT NULL,  -- lr, train_loss, val_loss...
  value    DOUBLE PRECISION,
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
);
CREATE TABLE decisions (
  study_id   BIGINT NOT NULL,
  number     BIGINT NOT NULL,
  step       BIGINT NOT NULL,
  decision   TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  prediction DOUBLE PRECISION,
  donor      BIGINT,  -- exploit: the trial copied; else NULL
  donor_step BIGINT,  -- exploit: the step of the donor's state
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
);
CREATE TABLE decision_params (
  study_id BIGINT NOT NULL,
  number   BIGINT NOT NULL,
  step     BIGINT NOT NULL,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('float', 'int', 'string')),
  value    TEXT NOT NULL,
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number, step) REFERENCES decisions (study_id, number, step)
    ON DELETE CASCADE
);
CREATE FUNCTION krill_count_trials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE studies SET trials_held = trials_held + 1,
                       trials_finished = trials_finished + (NEW.state <> 'running')::int
    WHERE id = NEW.study_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE studies SET trials_held = trials_held - 1,
                       trials_finished = trials_finished - (OLD.state <> 'running')::int
    WHERE id = OLD.study_id;
  ELSIF (NEW.state <> 'running') <> (OLD.state <> 'running') THEN
    UPDATE studies SET trials_finished = trials_finished + (NEW.state <> 'running')::int -
                                         (OLD.state <> 'running')::int
    WHERE id = NEW.study_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER trial_added AFTER INSERT ON trials
  FOR EACH ROW EXECUTE FUNCTION krill_count_trials();
CREATE TRIGGER trial_removed AFTER DELETE ON trials
  FOR EACH ROW EXECUTE FUNCTION krill_count_trials();
CREATE TRIGGER trial_state AFTER UPDATE OF state ON trials
  FOR EACH ROW EXECUTE FUNCTION krill_count_trials();
)sql";

inline constexpr std::array<const char*, 1> kMigrations = {kCreateV1};

// Keys of the advisory locks krill takes (pg_advisory_xact_lock): one for migrations, and one per
// study for claims (kClaimLock + the study's id).
inline constexpr long long kMigrationLock = 0x6b72696c6c000000LL;  // "krill"
inline constexpr long long kClaimLock = 0x6b72696c6c100000LL;

// The statements a connection prepares once (on first use) and keeps; $n are text parameters.
enum Sql : size_t {
  kFindStudy,
  kListStudies,
  kInsertStudy,
  kSetBudget,
  kInsertRun,
  kHeartbeat,
  kDeleteRun,
  kSelectRuns,
  kClaimLockStudy,
  kSelectOrphan,
  kCountTrials,
  kSelectTrialParams,
  kDeleteOrphan,
  kRequeueOrphan,
  kInsertTrial,
  kInsertParam,
  kUpsertReport,
  kUpsertMetric,
  kUpsertDecision,
  kDeleteDecisionParams,
  kInsertDecisionParam,
  kFinishTrial,
  kSelectOwner,
  kDeleteOwnedAttrs,
  kInsertOwnedAttr,
  kSelectTrials,
  kSelectParams,
  kSelectAttrs,
  kSelectReports,
  kSelectMetrics,
  kSelectDecisions,
  kSelectDecisionParams,
  kRenameStudy,
  kDeleteStudyTrials,
  kDeleteStudyRuns,
  kDeleteStudy,
  kLazyCommit,
  kSqlCount,
};

inline constexpr std::array<const char*, kSqlCount> kSql = {
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies WHERE name = $1",
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies ORDER BY id",
    "INSERT INTO studies (name, direction, objective, space, sampler, config, n_trials, created) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    "UPDATE studies SET n_trials = $2 WHERE id = $1",
    "INSERT INTO runs (id, study_id, host, pid, pid_start, started, heartbeat) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    "UPDATE runs SET heartbeat = $2 WHERE id = $1",
    "DELETE FROM runs WHERE id = $1",
    "SELECT id, host, pid, pid_start, started, heartbeat FROM runs WHERE study_id = $1 "
    "ORDER BY started, id",
    // Claims of one study take turns (until the transaction ends).
    "SELECT pg_advisory_xact_lock($1::bigint)",  // kClaimLock + the study's id
    // The lowest-numbered Running trial whose owner is no registered run.
    "SELECT number, requeues, owner FROM trials WHERE study_id = $1 AND state = 'running' "
    "AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = trials.owner) ORDER BY number LIMIT 1",
    // All trials, the Running ones, and the next free number.
    "SELECT trials_held, trials_held - trials_finished, "
    "(SELECT coalesce(max(number) + 1, 0) FROM trials WHERE study_id = $1) "
    "FROM studies WHERE id = $1",
    "SELECT name, kind, value FROM params WHERE study_id = $1 AND number = $2",
    // Its params, attrs, reports, metrics and decisions go with it (ON DELETE CASCADE). Only
    // while it is still the orphan the claim found: its old owner may have finished it meanwhile.
    "DELETE FROM trials WHERE study_id = $1 AND number = $2 AND state = 'running' AND owner = $3",
    // A re-queued trial that keeps its history (a PBT member resumes from its saved state).
    "UPDATE trials SET owner = $4, worker = $5, started = $6, requeues = $7 "
    "WHERE study_id = $1 AND number = $2 AND state = 'running' AND owner = $3",
    "INSERT INTO trials (study_id, number, state, value, error, started, finished, worker, owner, "
    "requeues) VALUES ($1, $2, 'running', NULL, '', $3, 0, $4, $5, $6)",
    "INSERT INTO params (study_id, number, name, kind, value) VALUES ($1, $2, $3, $4, $5)",
    // A running trial's reports and decisions: only of a trial the reporting run owns (the last
    // parameter: '' for anyone), as kFinishTrial; none written tells a lost lease (or no trial).
    "INSERT INTO reports (study_id, number, step, value) "
    "SELECT $1::bigint, $2::bigint, $3::bigint, $4::double precision WHERE EXISTS (SELECT 1 FROM "
    "trials t WHERE t.study_id = $1 AND t.number = $2 AND ($5::text = '' OR t.owner = $5::text)) "
    "ON CONFLICT (study_id, number, step) DO UPDATE SET value = excluded.value",
    "INSERT INTO report_metrics (study_id, number, step, name, value) "
    "SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, $5::double precision WHERE EXISTS "
    "(SELECT 1 FROM trials t WHERE t.study_id = $1 AND t.number = $2 AND ($6::text = '' OR "
    "t.owner = $6::text)) "
    "ON CONFLICT (study_id, number, step, name) DO UPDATE SET value = excluded.value",
    "INSERT INTO decisions (study_id, number, step, decision, reason, prediction, donor, "
    "donor_step) SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, $5::text, "
    "$6::double precision, $7::bigint, $8::bigint WHERE EXISTS (SELECT 1 FROM trials t WHERE "
    "t.study_id = $1 AND t.number = $2 AND ($9::text = '' OR t.owner = $9::text)) "
    "ON CONFLICT (study_id, number, step) DO "
    "UPDATE SET decision = excluded.decision, reason = excluded.reason, "
    "prediction = excluded.prediction, donor = excluded.donor, donor_step = excluded.donor_step",
    "DELETE FROM decision_params WHERE study_id = $1 AND number = $2 AND step = $3 AND EXISTS "
    "(SELECT 1 FROM trials t WHERE t.study_id = $1 AND t.number = $2 AND ($4::text = '' OR "
    "t.owner = $4::text))",
    "INSERT INTO decision_params (study_id, number, step, name, kind, value) "
    "SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, $5::text, $6::text WHERE EXISTS "
    "(SELECT 1 FROM trials t WHERE t.study_id = $1 AND t.number = $2 AND ($7::text = '' OR "
    "t.owner = $7::text))",
    // $7: the finishing run ('' for anyone); a trial re-queued to another run is left alone.
    "UPDATE trials SET state = $3, value = $4, error = $5, finished = $6 "
    "WHERE study_id = $1 AND number = $2 AND ($7::text = '' OR owner = $7::text)",
    "SELECT owner FROM trials WHERE study_id = $1 AND number = $2",
    // A finishing run's attrs: only of a trial it owns ($3/$5: '' for anyone), as kFinishTrial.
    "DELETE FROM attrs WHERE study_id = $1 AND number = $2 AND EXISTS (SELECT 1 FROM trials t "
    "WHERE t.study_id = $1 AND t.number = $2 AND ($3::text = '' OR t.owner = $3::text))",
    "INSERT INTO attrs (study_id, number, key, value) "
    "SELECT $1::bigint, $2::bigint, $3::text, $4::double precision WHERE EXISTS (SELECT 1 FROM "
    "trials t WHERE t.study_id = $1 AND t.number = $2 AND ($5::text = '' OR t.owner = $5::text))",
    "SELECT number, state, value, error, started, finished, worker, owner, requeues FROM trials "
    "WHERE study_id = $1 ORDER BY number",
    "SELECT number, name, kind, value FROM params WHERE study_id = $1 ORDER BY number, name",
    "SELECT number, key, value FROM attrs WHERE study_id = $1 ORDER BY number, key",
    "SELECT number, step, value FROM reports WHERE study_id = $1 ORDER BY number, step",
    "SELECT number, step, name, value FROM report_metrics WHERE study_id = $1 "
    "ORDER BY number, step, name",
    "SELECT number, step, decision, reason, prediction, donor, donor_step FROM decisions "
    "WHERE study_id = $1 ORDER BY number, step",
    "SELECT number, step, name, kind, value FROM decision_params WHERE study_id = $1 "
    "ORDER BY number, step, name",
    "UPDATE studies SET name = $2 WHERE id = $1",
    // A study's trials, with what they hold (ON DELETE CASCADE), then its runs, then the study.
    "DELETE FROM trials WHERE study_id = $1",
    "DELETE FROM runs WHERE study_id = $1",
    "DELETE FROM studies WHERE id = $1",
    // This transaction commits without waiting for the WAL flush (postgres_storage.cpp,
    // Call::Lazy).
    "SELECT set_config('synchronous_commit', 'off', true)",
};

}  // namespace krill::store::postgres
