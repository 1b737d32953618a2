// The SQL of the SQLite storage: the schema as a numbered list of migrations, and every statement
// SqliteStorage prepares once per connection, indexed by the Sql enum. Kept apart from
// sqlite_storage.cpp so that the layout of the file can be read in one place.
#pragma once

#include <array>
#include <cstddef>

namespace krill::store::sqlite {

// The schema is its list of migrations: kMigrations[v] takes a database of version v to version
// v + 1, in one transaction (SqliteStorage::migrate writes the new version in the same
// transaction), and a new file runs them all from version 0. The version this krill writes is
// kMigrations.size() (kSchemaVersion, sqlite_storage.hpp): a change of layout appends a migration,
// and nothing else holds the number.
//
// Values (objective, reports, attrs, float params) live in columns with no declared type: a REAL
// column would store -0.0 as the integer 0 and lose its sign, while an untyped one keeps the IEEE
// double as bound. SQLite has no NaN: it stores NULL, which reads back as NaN in params, attrs and
// reports, and as "no value" in trials.value.

// Version 1 (krill 0.1): studies, trials and what belongs to a trial.
inline constexpr const char* kCreateV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('program', 'krill'), ('schema_version', '0');
CREATE TABLE studies (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL,  -- minimize | maximize
  objective TEXT NOT NULL,
  space     TEXT NOT NULL,  -- SearchSpace::fingerprint()
  sampler   TEXT NOT NULL,
  config    TEXT NOT NULL,
  n_trials  INTEGER NOT NULL,
  created   REAL NOT NULL   -- seconds since the epoch
);
CREATE TABLE trials (
  study_id INTEGER NOT NULL REFERENCES studies (id),
  number   INTEGER NOT NULL,
  state    TEXT NOT NULL,   -- running | completed | stopped | failed | diverged
  value,                    -- the objective; NULL: none
  error    TEXT NOT NULL DEFAULT '',
  started  REAL,
  finished REAL,
  worker   INTEGER NOT NULL,
  PRIMARY KEY (study_id, number)
) WITHOUT ROWID;
CREATE INDEX trials_by_state ON trials (study_id, state);
CREATE TABLE params (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('float', 'int', 'string')),
  value,                    -- REAL, INTEGER or TEXT, as kind says
  PRIMARY KEY (study_id, number, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
CREATE TABLE attrs (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  key      TEXT NOT NULL,
  value,                    -- REAL
  PRIMARY KEY (study_id, number, key),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
CREATE TABLE reports (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  value,                    -- REAL
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
-- What a stopper decided at a step of a trial, and why.
CREATE TABLE decisions (
  study_id   INTEGER NOT NULL,
  number     INTEGER NOT NULL,
  step       INTEGER NOT NULL,
  decision   TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  prediction,               -- REAL
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
)sql";

// Version 2: per-step series other than the objective (the learning rate...).
inline constexpr const char* kMigrateV1ToV2 = R"sql(
CREATE TABLE report_metrics (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  name     TEXT NOT NULL,     -- lr, train_loss, val_loss...
  value,                    -- REAL
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
)sql";

// Version 3: leases. A run is a process working on a study (hpo/lease.hpp); a Running trial is
// owned by a run, and counts its re-queues. Every table that belongs to a trial now deletes with
// it (ON DELETE CASCADE), so that re-queuing a trial is one DELETE of its row: SQLite cannot
// change a foreign key in place, so each child table is rebuilt and its rows copied.
inline constexpr const char* kMigrateV2ToV3 = R"sql(
CREATE TABLE runs (
  id        TEXT PRIMARY KEY,  -- random hex
  study_id  INTEGER NOT NULL REFERENCES studies (id),
  host      TEXT NOT NULL,
  pid       INTEGER NOT NULL,
  pid_start INTEGER NOT NULL,  -- the process's start time on its host (0: unknown)
  started   REAL NOT NULL,
  heartbeat REAL NOT NULL      -- seconds since the epoch
) WITHOUT ROWID;
CREATE INDEX runs_by_study ON runs (study_id);
ALTER TABLE trials ADD COLUMN owner TEXT NOT NULL DEFAULT '';  -- a runs.id, or a gone run's
ALTER TABLE trials ADD COLUMN requeues INTEGER NOT NULL DEFAULT 0;

-- The counts a claim needs (trials in any state, and finished), kept by triggers: counting the
-- rows would cost O(trials) at every claim.
ALTER TABLE studies ADD COLUMN trials_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN trials_finished INTEGER NOT NULL DEFAULT 0;
UPDATE studies SET
  trials_held = (SELECT count(*) FROM trials WHERE study_id = studies.id),
  trials_finished = (SELECT count(*) FROM trials WHERE study_id = studies.id AND state != 'running');
CREATE TRIGGER trial_added AFTER INSERT ON trials BEGIN
  UPDATE studies SET trials_held = trials_held + 1,
                     trials_finished = trials_finished + (NEW.state != 'running')
  WHERE id = NEW.study_id;
END;
CREATE TRIGGER trial_removed AFTER DELETE ON trials BEGIN
  UPDATE studies SET trials_held = trials_held - 1,
                     trials_finished = trials_finished - (OLD.state != 'running')
  WHERE id = OLD.study_id;
END;
CREATE TRIGGER trial_state AFTER UPDATE OF state ON trials BEGIN
  UPDATE studies SET trials_finished = trials_finished + (NEW.state != 'running') -
                                       (OLD.state != 'running')
  WHERE id = NEW.study_id;
END;

CREATE TABLE params_v3 (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('float', 'int', 'string')),
  value,
  PRIMARY KEY (study_id, number, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO params_v3 SELECT study_id, number, name, kind, value FROM params;
DROP TABLE params;
ALTER TABLE params_v3 RENAME TO params;

CREATE TABLE attrs_v3 (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  key      TEXT NOT NULL,
  value,
  PRIMARY KEY (study_id, number, key),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO attrs_v3 SELECT study_id, number, key, value FROM attrs;
DROP TABLE attrs;
ALTER TABLE attrs_v3 RENAME TO attrs;

CREATE TABLE reports_v3 (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  value,
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO reports_v3 SELECT study_id, number, step, value FROM reports;
DROP TABLE reports;
ALTER TABLE reports_v3 RENAME TO reports;

CREATE TABLE report_metrics_v3 (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  name     TEXT NOT NULL,
  value,
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO report_metrics_v3 SELECT study_id, number, step, name, value FROM report_metrics;
DROP TABLE report_metrics;
ALTER TABLE report_metrics_v3 RENAME TO report_metrics;

CREATE TABLE decisions_v3 (
  study_id   INTEGER NOT NULL,
  number     INTEGER NOT NULL,
  step       INTEGER NOT NULL,
  decision   TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  prediction,
  PRIMARY KEY (study_id, number, step),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO decisions_v3
  SELECT study_id, number, step, decision, reason, prediction FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_v3 RENAME TO decisions;
)sql";

// Version 4: decisions beyond stop. PBT's exploit names the trial copied (donor), the step of
// its state, and the recipient's new hyperparameters (decision_params, like params): the lineage
// of a population is its exploit decisions.
inline constexpr const char* kMigrateV3ToV4 = R"sql(
ALTER TABLE decisions ADD COLUMN donor INTEGER;       -- exploit: the trial copied; else NULL
ALTER TABLE decisions ADD COLUMN donor_step INTEGER;  -- exploit: the step of the donor's state
CREATE TABLE decision_params (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  name     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('float', 'int', 'string')),
  value,
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number, step) REFERENCES decisions (study_id, number, step)
    ON DELETE CASCADE
) WITHOUT ROWID;
)sql";

inline constexpr std::array<const char*, 4> kMigrations = {kCreateV1, kMigrateV1ToV2,
                                                           kMigrateV2ToV3, kMigrateV3ToV4};

// The statements a connection prepares once (on first use) and keeps.
enum Sql : size_t {
  kBegin,
  kBeginWrite,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackTo,
  kFindStudy,
  kListStudies,
  kInsertStudy,
  kSetBudget,
  kInsertRun,
  kHeartbeat,
  kDeleteRun,
  kSelectRuns,
  kSelectOrphan,
  kCountTrials,
  kSelectTrialParams,
  kDeleteTrial,
  kRequeueTrial,
  kInsertTrial,
  kInsertParam,
  kUpsertReport,
  kUpsertMetric,
  kUpsertDecision,
  kDeleteDecisionParams,
  kInsertDecisionParam,
  kFinishTrial,
  kSelectOwner,
  kDeleteAttrs,
  kInsertAttr,
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
  kSqlCount,
};

inline constexpr std::array<const char*, kSqlCount> kSql = {
    "BEGIN",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT krill_call",
    "RELEASE krill_call",
    "ROLLBACK TO krill_call",
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies WHERE name = ?1",
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies ORDER BY id",
    "INSERT INTO studies (name, direction, objective, space, sampler, config, n_trials, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "UPDATE studies SET n_trials = ?2 WHERE id = ?1",
    "INSERT INTO runs (id, study_id, host, pid, pid_start, started, heartbeat) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "UPDATE runs SET heartbeat = ?2 WHERE id = ?1",
    "DELETE FROM runs WHERE id = ?1",
    "SELECT id, host, pid, pid_start, started, heartbeat FROM runs WHERE study_id = ?1 "
    "ORDER BY started, id",
    // The lowest-numbered Running trial whose owner is no registered run.
    // (INDEXED BY: without statistics the planner walks the primary key, all trials, for LIMIT 1)
    "SELECT number, requeues FROM trials INDEXED BY trials_by_state "
    "WHERE study_id = ?1 AND state = 'running' "
    "AND owner NOT IN (SELECT id FROM runs) ORDER BY number LIMIT 1",
    // All trials, the Running ones, and the next free number.
    "SELECT trials_held, trials_held - trials_finished, "
    "(SELECT coalesce(max(number) + 1, 0) FROM trials WHERE study_id = ?1) "
    "FROM studies WHERE id = ?1",
    "SELECT name, kind, value FROM params WHERE study_id = ?1 AND number = ?2",
    // Its params, attrs, reports, metrics and decisions go with it (ON DELETE CASCADE).
    "DELETE FROM trials WHERE study_id = ?1 AND number = ?2",
    // A re-queued trial that keeps its history (a PBT member resumes from its saved state).
    "UPDATE trials SET owner = ?3, worker = ?4, started = ?5, requeues = ?6 "
    "WHERE study_id = ?1 AND number = ?2",
    "INSERT INTO trials (study_id, number, state, value, error, started, finished, worker, owner, "
    "requeues) VALUES (?1, ?2, ?3, NULL, '', ?4, 0, ?5, ?6, ?7)",
    "INSERT INTO params (study_id, number, name, kind, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO reports (study_id, number, step, value) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (study_id, number, step) DO UPDATE SET value = excluded.value",
    "INSERT INTO report_metrics (study_id, number, step, name, value) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (study_id, number, step, name) DO UPDATE SET value = excluded.value",
    "INSERT INTO decisions (study_id, number, step, decision, reason, prediction, donor, "
    "donor_step) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (study_id, number, step) DO "
    "UPDATE SET decision = excluded.decision, reason = excluded.reason, "
    "prediction = excluded.prediction, donor = excluded.donor, donor_step = excluded.donor_step",
    "DELETE FROM decision_params WHERE study_id = ?1 AND number = ?2 AND step = ?3",
    "INSERT INTO decision_params (study_id, number, step, name, kind, value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    // ?7: the finishing run ('' for anyone); a trial re-queued to another run is left alone.
    "UPDATE trials SET state = ?3, value = ?4, error = ?5, finished = ?6 "
    "WHERE study_id = ?1 AND number = ?2 AND (?7 = '' OR owner = ?7)",
    "SELECT owner FROM trials WHERE study_id = ?1 AND number = ?2",
    "DELETE FROM attrs WHERE study_id = ?1 AND number = ?2",
    "INSERT INTO attrs (study_id, number, key, value) VALUES (?1, ?2, ?3, ?4)",
    "SELECT number, state, value, error, started, finished, worker, owner, requeues FROM trials "
    "WHERE study_id = ?1 ORDER BY number",
    "SELECT number, name, kind, value FROM params WHERE study_id = ?1 ORDER BY number, name",
    "SELECT number, key, value FROM attrs WHERE study_id = ?1 ORDER BY number, key",
    "SELECT number, step, value FROM reports WHERE study_id = ?1 ORDER BY number, step",
    "SELECT number, step, name, value FROM report_metrics WHERE study_id = ?1 "
    "ORDER BY number, step, name",
    "SELECT number, step, decision, reason, prediction, donor, donor_step FROM decisions "
    "WHERE study_id = ?1 ORDER BY number, step",
    "SELECT number, step, name, kind, value FROM decision_params WHERE study_id = ?1 "
    "ORDER BY number, step, name",
    "UPDATE studies SET name = ?2 WHERE id = ?1",
    // A study's trials, with what they hold (ON DELETE CASCADE), then its runs, then the study.
    "DELETE FROM trials WHERE study_id = ?1",
    "DELETE FROM runs WHERE study_id = ?1",
    "DELETE FROM studies WHERE id = ?1",
};

}  // namespace krill::store::sqlite
