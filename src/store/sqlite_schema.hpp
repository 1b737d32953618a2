// The SQL of the SQLite storage: the schema (version 2, see kSchemaVersion) and every statement
// SqliteStorage prepares once per connection, indexed by the Sql enum. Kept apart from
// sqlite_storage.cpp so that the layout of the file can be read in one place.
#pragma once

#include <array>
#include <cstddef>

namespace krill::store::sqlite {

// Schema version 2 (its number is written here, in kMigrations and in kSchemaVersion,
// sqlite_storage.hpp; a change of layout bumps them all and adds a migration).
// Version 2 added report_metrics (per-step series other than the objective: the learning rate).
// Values (objective, reports, attrs, float params) live in columns with no declared type: a REAL
// column would store -0.0 as the integer 0 and lose its sign, while an untyped one keeps the IEEE
// double as bound. SQLite has no NaN: it stores NULL, which reads back as NaN in params, attrs and
// reports, and as "no value" in trials.value.
inline constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('program', 'krill'), ('schema_version', '2');
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
CREATE TABLE report_metrics (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  name     TEXT NOT NULL,     -- lr, train_loss, val_loss...
  value,                    -- REAL
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
-- Reserved for early stopping: what a stopper decided at a step of a trial, and why.
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

// Migrations: kMigrations[v] takes a database of version v to version v + 1.
inline constexpr const char* kMigrateV1ToV2 = R"sql(
CREATE TABLE report_metrics (
  study_id INTEGER NOT NULL,
  number   INTEGER NOT NULL,
  step     INTEGER NOT NULL,
  name     TEXT NOT NULL,
  value,
  PRIMARY KEY (study_id, number, step, name),
  FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

// The statements a connection prepares once (on first use) and keeps.
enum Sql : size_t {
  kBegin,
  kBeginWrite,
  kCommit,
  kRollback,
  kFindStudy,
  kListStudies,
  kInsertStudy,
  kSetBudget,
  kInsertTrial,
  kInsertParam,
  kUpsertReport,
  kUpsertMetric,
  kUpsertDecision,
  kFinishTrial,
  kDeleteAttrs,
  kInsertAttr,
  kSelectTrials,
  kSelectParams,
  kSelectAttrs,
  kSelectReports,
  kSelectMetrics,
  kSelectDecisions,
  kSelectRunning,
  kDeleteRunningParams,
  kDeleteRunningAttrs,
  kDeleteRunningReports,
  kDeleteRunningMetrics,
  kDeleteRunningDecisions,
  kDeleteRunningTrials,
  kSqlCount,
};

#define KRILL_RUNNING_TRIALS "(SELECT number FROM trials WHERE study_id = ?1 AND state = ?2)"
inline constexpr std::array<const char*, kSqlCount> kSql = {
    "BEGIN",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies WHERE name = ?1",
    "SELECT id, name, direction, objective, space, sampler, config, n_trials, created "
    "FROM studies ORDER BY id",
    "INSERT INTO studies (name, direction, objective, space, sampler, config, n_trials, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "UPDATE studies SET n_trials = ?2 WHERE id = ?1",
    "INSERT INTO trials (study_id, number, state, value, error, started, finished, worker) "
    "VALUES (?1, ?2, ?3, NULL, '', ?4, 0, ?5)",
    "INSERT INTO params (study_id, number, name, kind, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO reports (study_id, number, step, value) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (study_id, number, step) DO UPDATE SET value = excluded.value",
    "INSERT INTO report_metrics (study_id, number, step, name, value) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (study_id, number, step, name) DO UPDATE SET value = excluded.value",
    "INSERT INTO decisions (study_id, number, step, decision, reason, prediction) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (study_id, number, step) DO UPDATE SET "
    "decision = excluded.decision, reason = excluded.reason, prediction = excluded.prediction",
    "UPDATE trials SET state = ?3, value = ?4, error = ?5, finished = ?6 "
    "WHERE study_id = ?1 AND number = ?2",
    "DELETE FROM attrs WHERE study_id = ?1 AND number = ?2",
    "INSERT INTO attrs (study_id, number, key, value) VALUES (?1, ?2, ?3, ?4)",
    "SELECT number, state, value, error, started, finished, worker FROM trials "
    "WHERE study_id = ?1 ORDER BY number",
    "SELECT number, name, kind, value FROM params WHERE study_id = ?1 ORDER BY number, name",
    "SELECT number, key, value FROM attrs WHERE study_id = ?1 ORDER BY number, key",
    "SELECT number, step, value FROM reports WHERE study_id = ?1 ORDER BY number, step",
    "SELECT number, step, name, value FROM report_metrics WHERE study_id = ?1 "
    "ORDER BY number, step, name",
    "SELECT number, step, decision, reason, prediction FROM decisions WHERE study_id = ?1 "
    "ORDER BY number, step",
    "SELECT number FROM trials WHERE study_id = ?1 AND state = ?2 ORDER BY number",
    "DELETE FROM params WHERE study_id = ?1 AND number IN " KRILL_RUNNING_TRIALS,
    "DELETE FROM attrs WHERE study_id = ?1 AND number IN " KRILL_RUNNING_TRIALS,
    "DELETE FROM reports WHERE study_id = ?1 AND number IN " KRILL_RUNNING_TRIALS,
    "DELETE FROM report_metrics WHERE study_id = ?1 AND number IN " KRILL_RUNNING_TRIALS,
    "DELETE FROM decisions WHERE study_id = ?1 AND number IN " KRILL_RUNNING_TRIALS,
    "DELETE FROM trials WHERE study_id = ?1 AND state = ?2",
};
#undef KRILL_RUNNING_TRIALS

}  // namespace krill::store::sqlite
