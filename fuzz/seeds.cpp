// Writes the binary seed inputs of the fuzz targets (fuzz/make-corpus.sh runs it): small valid
// files and messages made by krill's own code, and a few broken variants. Usage: krill_fuzz_seeds
// CORPUS_DIR (writes CORPUS_DIR/{idx,checkpoint,storage,protocol}/...). No file extensions:
// .gitignore ignores *.db and *.ckpt.
#include <sqlite3.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "exec/mpi/protocol.hpp"
#include "fuzz_members.hpp"
#include "hpo/storage.hpp"
#include "store/open.hpp"
#include "store/sqlite_schema.hpp"
#include "train/checkpoint.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

void write(const fs::path& file, const Bytes& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes gzip(const Bytes& bytes, const fs::path& scratch) {
  gzFile gz = gzopen(scratch.c_str(), "wb9");
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
  std::ifstream in(scratch, std::ios::binary);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(scratch);
  return out;
}

Bytes idx(uint8_t type, const std::vector<uint32_t>& dims, size_t values) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  for (size_t i = 0; i < values; ++i) b.push_back(static_cast<uint8_t>(i * 37));
  return b;
}

void idx_seeds(const fs::path& dir) {
  const Bytes images = idx(0x08, {2, 3, 3}, 18);
  const Bytes labels = idx(0x08, {2}, 2);
  write(dir / "images-2x3x3", images);
  write(dir / "labels-2", labels);
  write(dir / "images-2x3x3.gz", gzip(images, dir / "scratch.gz"));
  write(dir / "empty-dim", idx(0x08, {0, 5}, 0));
  write(dir / "truncated", idx(0x08, {2, 3, 3}, 11));
  write(dir / "trailing", idx(0x08, {2}, 3));
  write(dir / "float-type", idx(0x0D, {1}, 4));
  write(dir / "huge-header", idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF}, 4));
  write(dir / "huge-header.gz", gzip(idx(0x08, {60000, 28, 28}, 16), dir / "scratch.gz"));
}

void checkpoint_seeds(const fs::path& dir) {
  for (const char* name : {"sgd", "adam"}) {
    krill::fuzz::Member m = krill::fuzz::make_member(name);
    for (auto* p : m.model->parameters()) p->grad.fill(0.25f);
    m.optimizer->step();  // non-zero momentum / moments
    const Bytes bytes =
        krill::train::save_checkpoint(*m.model, *m.optimizer, {.iteration = 7, .base_lr = 0.05});
    write(dir / std::string(name), bytes);
    write(dir / (std::string(name) + "-truncated"), Bytes(bytes.begin(), bytes.end() - 9));
    Bytes corrupt = bytes;
    corrupt[corrupt.size() / 2] ^= 0x40;  // checksum mismatch
    write(dir / (std::string(name) + "-corrupt"), corrupt);
  }
  write(dir / "not-a-checkpoint", Bytes{'K', 'R', 'I', 'L', 'L', 'C', 'K', 'X', 1, 0, 0, 0});
}

void exec(sqlite3* db, const std::string& text) {
  const char* sql = text.c_str();
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "krill_fuzz_seeds: %s: %s\n", sql, error);
    std::exit(1);
  }
}

// Rewritten with 512-byte pages and no WAL, so that a seed stays a few kilobytes.
void compact(const fs::path& file) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  exec(db, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512; VACUUM");
  sqlite3_close(db);
}

// A database as an older krill wrote it (the migrations' input): the first `version`
// migrations of the schema, then the rows of storage_seed() below in that layout.
void old_storage_seed(const fs::path& file, size_t version) {
  fs::remove(file);
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  for (size_t v = 0; v < version; ++v) exec(db, krill::store::sqlite::kMigrations[v]);
  exec(db, "UPDATE meta SET value = '" + std::to_string(version) +
               "' WHERE key = 'schema_version';"
               "INSERT INTO studies VALUES (1, 'seed', 'maximize', 'val_accuracy', 'lr: float', "
               "'random(seed=1)', 'data=fashion-mnist epochs=1', 3, 1700000000.5);"
               "INSERT INTO trials VALUES (1, 0, 'completed', 0.8, '', 1.0, 2.0, 0),"
               " (1, 1, 'failed', NULL, 'seed error', 2.0, 3.0, 1), (1, 2, 'running', NULL, '', "
               "3.0, 0, 0);"
               "INSERT INTO params VALUES (1, 0, 'lr', 'float', 0.01), (1, 1, 'batch', 'int', 64),"
               " (1, 2, 'optimizer', 'string', 'sgd');"
               "INSERT INTO attrs VALUES (1, 0, 'iterations', 100.0);"
               "INSERT INTO reports VALUES (1, 0, 10, 0.5), (1, 2, 10, 0.7);"
               "INSERT INTO decisions VALUES (1, 2, 10, 'stop', 'seed', 0.6);");
  if (version >= 2) exec(db, "INSERT INTO report_metrics VALUES (1, 0, 10, 'lr', 0.01)");
  sqlite3_close(db);
  compact(file);
}

// A krill database of one study with three trials (params of every kind, reports with metrics,
// attrs, a decision, one left running by a run that is gone), made by SqliteStorage.
void storage_seed(const fs::path& file) {
  fs::create_directories(file.parent_path());
  fs::remove(file);
  {
    auto storage = krill::store::open_storage(file);
    krill::hpo::StudyRecord study{.name = "seed",
                                  .direction = krill::hpo::Direction::Maximize,
                                  .objective = "val_accuracy",
                                  .space = "lr: float [0.001, 0.1] log\nbatch: choice(32, 64)",
                                  .sampler = "random(seed=1)",
                                  .config = "data=fashion-mnist epochs=1",
                                  .n_trials = 3,
                                  .created = 1700000000.5};
    const int64_t id = storage->create_study(study);
    for (int64_t n = 0; n < 3; ++n) {
      krill::hpo::TrialRecord t;
      t.number = n;
      t.params = {{"lr", 0.01 * static_cast<double>(n + 1)},
                  {"batch", int64_t{32} << n},
                  {"optimizer", std::string("sgd")}};
      t.started = 1700000001.0 + static_cast<double>(n);
      t.worker = static_cast<int>(n % 2);
      t.owner = "0123456789abcdef";
      storage->start_trial(id, t);
      storage->add_report(id, n, {10, 0.5 + 0.1 * static_cast<double>(n), {{"lr", 0.01}}});
      if (n == 1) {  // a PBT exploit: a donor, its step and the new parameters
        storage->add_decision(id, n,
                              {.step = 10,
                               .action = krill::hpo::Action::Exploit,
                               .reason = "pbt seed",
                               .donor = 0,
                               .donor_step = 10,
                               .params = {{"lr", 0.012}, {"optimizer", std::string("sgd")}}});
      }
      if (n == 2) {
        storage->add_decision(
            id, n,
            {.step = 10, .action = krill::hpo::Action::Stop, .reason = "seed", .prediction = 0.6});
        continue;  // left Running: an interrupted trial
      }
      t.state = n == 0 ? krill::hpo::TrialState::Completed : krill::hpo::TrialState::Failed;
      if (n == 0) t.value = 0.8;
      t.error = n == 1 ? "seed error" : "";
      t.attrs = {{"iterations", 100.0}};
      t.finished = t.started + 1.0;
      storage->finish_trial(id, t);
    }
  }
  compact(file);
}

void storage_seeds(const fs::path& dir) {
  storage_seed(dir / "study");
  old_storage_seed(dir / "study-v1", 1);
  old_storage_seed(dir / "study-v2", 2);
  write(dir / "empty", {});
  write(dir / "not-sqlite", Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  std::ifstream in(dir / "study", std::ios::binary);
  Bytes db((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write(dir / "truncated", Bytes(db.begin(), db.begin() + static_cast<long>(db.size() / 2)));
}

// One message of every type, with content (parameters of every kind, metrics, NaN, a few bytes of
// weights), and a few broken ones.
void protocol_seeds(const fs::path& dir) {
  namespace mpi = krill::exec::mpi;
  const mpi::Run run{.trial = 3,
                     .params = {{"activation", std::string("relu")},
                                {"batch", int64_t{64}},
                                {"lr", 0.01},
                                {"note", std::string()}}};
  const std::vector<std::pair<const char*, mpi::Message>> messages = {
      {"ask", mpi::Ask{}},
      {"run", run},
      {"report", mpi::ReportMsg{.trial = 3,
                                .step = 100,
                                .value = 0.8125,
                                .metrics = {{"lr", 0.0095}, {"train_loss", 0.42}}}},
      {"decision",
       mpi::Decision{.trial = 3, .step = 100, .action = mpi::Action::Stop, .reason = "median"}},
      {"decision-exploit", mpi::Decision{.trial = 3,
                                         .step = 100,
                                         .action = mpi::Action::Exploit,
                                         .reason = "pbt",
                                         .donor = 1,
                                         .donor_step = 100,
                                         .donor_rank = 2,
                                         .params = {{"lr", 0.012}}}},
      {"give", mpi::Give{.trial = 1, .step = 100, .to = 4}},
      {"state", mpi::State{.trial = 1, .step = 100, .bytes = {'K', 'R', 'I', 'L', 'L', 'M'}}},
      {"result", mpi::Result{.trial = 3,
                             .outcome = mpi::Outcome::Returned,
                             .value = 0.85,
                             .error = "",
                             .attrs = {{"iterations", 500}, {"seconds", 2.5}}}},
      {"result-threw", mpi::Result{.trial = 4,
                                   .outcome = mpi::Outcome::Threw,
                                   .value = std::numeric_limits<double>::quiet_NaN(),
                                   .error = "out of memory",
                                   .attrs = {}}},
      {"result-ack", mpi::ResultAck{.trial = 3, .send_weights = true}},
      {"weights",
       mpi::Weights{.trial = 3, .bytes = {'K', 'R', 'I', 'L', 'L', 'C', 'K', 'P', 1, 0}}},
      {"shutdown", mpi::Shutdown{}},
  };
  for (const auto& [name, message] : messages) write(dir / name, mpi::encode(message));
  const Bytes bytes = mpi::encode(run);
  write(dir / "run-truncated", Bytes(bytes.begin(), bytes.end() - 3));
  Bytes trailing = bytes;
  trailing.push_back(0);
  write(dir / "run-trailing", trailing);
  Bytes other_version = bytes;
  other_version[2] = mpi::kProtocolVersion + 1;
  write(dir / "run-other-version", other_version);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: krill_fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  const fs::path corpus = argv[1];
  idx_seeds(corpus / "idx");
  checkpoint_seeds(corpus / "checkpoint");
  storage_seeds(corpus / "storage");
  protocol_seeds(corpus / "protocol");
  return 0;
}
