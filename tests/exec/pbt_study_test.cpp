// A PBT study on threads and through the MPI manager's protocol (on a LocalNetwork), with a toy
// member whose state is its accumulated "weight": every generation is decided with all members at
// the same step, every decision is stored, the recipient holds its donor's state right after an
// exploit, the learning rate PBT sets holds, and both executors decide the same lineage.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "exec/local_executor.hpp"
#include "exec/mpi/manager.hpp"
#include "exec/mpi/worker.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"

namespace krill::hpo {
namespace {

using ::testing::HasSubstr;

// A member: w grows by lr each step (the objective is w: a larger rate is fitter).
class Toy final : public Trainable {
 public:
  explicit Toy(double lr) : lr_(lr) {}
  std::vector<uint8_t> save() override {
    std::vector<uint8_t> out(24);
    std::memcpy(out.data(), &w_, 8);
    std::memcpy(out.data() + 8, &step_, 8);
    std::memcpy(out.data() + 16, &lr_, 8);
    return out;
  }
  void load(std::span<const uint8_t> bytes) override {
    if (bytes.size() != 24) throw DataError("toy state: 24 bytes expected");
    int64_t step = 0;
    std::memcpy(&step, bytes.data() + 8, 8);
    if (step != step_) throw DataError("toy state of another step");
    std::memcpy(&w_, bytes.data(), 8);
    std::memcpy(&lr_, bytes.data() + 16, 8);
  }
  void set_params(const Params& p) override { lr_ = as_double(p.at("lr"), "lr"); }
  Params params() const override { return {{"lr", lr_}}; }
  int64_t step() const override { return step_; }

  void train_step() {
    w_ += lr_;
    ++step_;
  }
  double w() const { return w_; }
  double lr() const { return lr_; }

 private:
  double w_ = 0;
  int64_t step_ = 0;
  double lr_;
};

constexpr int64_t kSteps = 400, kEvery = 50, kInterval = 100, kPopulation = 4;

struct Seen {
  std::mutex mutex;
  std::map<std::pair<int64_t, int64_t>, double> w;  // (trial, step) -> w reported
  struct Exploit {
    int64_t trial, step, donor;
    double w_after, lr_after, lr_decided;
  };
  std::vector<Exploit> exploits;
  std::map<std::pair<int64_t, int64_t>, double> lr;  // (trial, step) -> lr trained with
};

double run_toy(Trial& trial, Seen& seen) {
  Toy toy(trial.float_param("lr"));
  trial.attach(&toy);
  for (int64_t s = 1; s <= kSteps; ++s) {
    toy.train_step();
    if (s % kEvery != 0) continue;
    {
      std::lock_guard lock(seen.mutex);
      seen.w[{trial.number(), s}] = toy.w();
      seen.lr[{trial.number(), s}] = toy.lr();
    }
    trial.report(s, toy.w(), {{"lr", toy.lr()}}, s == kSteps);
    const DecisionRecord& d = trial.last_decision();
    if (d.action == Action::Exploit) {
      std::lock_guard lock(seen.mutex);
      seen.exploits.push_back(
          {trial.number(), s, d.donor, toy.w(), toy.lr(), as_double(d.params.at("lr"), "lr")});
    }
  }
  trial.attach(nullptr);
  return toy.w();
}

OptimizeOptions with(Executor& executor) {
  OptimizeOptions o;
  o.executor = &executor;
  return o;
}

StudyRecord record() {
  StudyRecord r;
  r.name = "pbt-toy";
  r.direction = Direction::Maximize;
  r.objective = "w";
  r.n_trials = kPopulation;
  return r;
}

SearchSpace space() {
  return SearchSpace{{"lr", FloatDim{0.001, 1.0, true}}};
}

std::unique_ptr<Pbt> pbt() {
  return std::make_unique<Pbt>(
      PbtOptions{.population = kPopulation, .interval = kInterval, .seed = 11}, space());
}

std::unique_ptr<Study> open(Storage& storage) {
  return std::make_unique<Study>(record(), space(), make_sampler("random", 5), storage, nullptr,
                                 LeaseOptions{}, pbt());
}

void check(const Seen& seen, const std::vector<TrialRecord>& trials) {
  ASSERT_EQ(trials.size(), static_cast<size_t>(kPopulation));
  std::vector<DecisionRecord> stored_exploits;
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Completed);
    // One stored decision per generation, at each interval before the end.
    std::vector<int64_t> steps;
    for (const auto& d : t.decisions) steps.push_back(d.step);
    EXPECT_EQ(steps, (std::vector<int64_t>{100, 200, 300})) << "trial " << t.number;
    for (const auto& d : t.decisions) {
      if (d.action == Action::Exploit) stored_exploits.push_back(d);
      EXPECT_THAT(d.reason, HasSubstr("pbt: rank "));
    }
  }
  ASSERT_EQ(stored_exploits.size(), seen.exploits.size());
  EXPECT_EQ(seen.exploits.size(), 3u) << "one of four (the bottom quartile) at each of 3 steps";
  for (const auto& e : seen.exploits) {
    // Right after the exploit the recipient holds the donor's state at that step...
    EXPECT_EQ(e.w_after, seen.w.at({e.donor, e.step}))
        << "trial " << e.trial << " copying trial " << e.donor << " at step " << e.step;
    EXPECT_NE(e.donor, e.trial);
    // ... and trains with the learning rate decided, until the next exploit.
    EXPECT_EQ(e.lr_after, e.lr_decided);
    const auto next = seen.lr.find({e.trial, e.step + kEvery});
    ASSERT_NE(next, seen.lr.end());
    EXPECT_EQ(next->second, e.lr_decided);
  }
}

TEST(PbtStudy, LocalGenerationsCopyTheFittestAndStoreTheLineage) {
  store::MemoryStorage storage;
  auto study = open(storage);
  Seen seen;
  exec::LocalExecutor executor({.workers = kPopulation, .threads_per_worker = 1});
  study->optimize([&](Trial& t) { return run_toy(t, seen); }, with(executor));
  check(seen, study->trials());
}

TEST(PbtStudy, ThroughTheManagerTheSameLineageAsLocally) {
  Seen local_seen;
  std::vector<TrialRecord> local;
  {
    store::MemoryStorage storage;
    auto study = open(storage);
    exec::LocalExecutor executor({.workers = kPopulation, .threads_per_worker = 1});
    study->optimize([&](Trial& t) { return run_toy(t, local_seen); }, with(executor));
    local = study->trials();
  }
  store::MemoryStorage storage;
  auto study = open(storage);
  exec::mpi::LocalNetwork net(kPopulation + 1);
  Seen seen;
  std::vector<std::thread> workers;
  for (int r = 1; r <= kPopulation; ++r) {
    workers.emplace_back([&, r] {
      exec::mpi::run_worker(net.endpoint(r), [&](Trial& t) { return run_toy(t, seen); });
    });
  }
  exec::mpi::MpiExecutor executor(net.endpoint(0));
  study->optimize([](Trial&) -> double { throw Error("the manager trains nothing"); },
                  with(executor));
  for (auto& w : workers) w.join();
  const auto trials = study->trials();
  check(seen, trials);
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].value, local[i].value);
    ASSERT_EQ(trials[i].decisions.size(), local[i].decisions.size());
    for (size_t k = 0; k < trials[i].decisions.size(); ++k) {
      EXPECT_EQ(trials[i].decisions[k].action, local[i].decisions[k].action);
      EXPECT_EQ(trials[i].decisions[k].donor, local[i].decisions[k].donor);
      EXPECT_EQ(trials[i].decisions[k].params, local[i].decisions[k].params);
    }
  }
}

TEST(PbtStudy, TooFewWorkersOrNoTrainableAreRefused) {
  store::MemoryStorage storage;
  auto study = open(storage);
  exec::LocalExecutor two({.workers = 2, .threads_per_worker = 1});
  try {
    study->optimize([](Trial&) { return 0.0; }, with(two));
    FAIL() << "expected an error";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("population of 4 members trains at once"));
  }
  EXPECT_THROW(study->optimize([](Trial&) { return 0.0; }), InvalidArgument);

  // An objective that attaches no Trainable fails its trials at the first generation, naming why.
  exec::LocalExecutor four({.workers = 4, .threads_per_worker = 1});
  study->optimize(
      [](Trial& t) {
        for (int64_t s = kEvery; s <= kSteps; s += kEvery) t.report(s, 1.0);
        return 1.0;
      },
      with(four));
  for (const TrialRecord& t : study->trials()) {
    EXPECT_EQ(t.state, TrialState::Failed);
    EXPECT_THAT(t.error, HasSubstr("attaches a Trainable"));
  }
}

// A population whose run was taken for gone (silent past the grace period) while another run
// took a member back stops at once, all of it: a generation ranks every member, so the others
// cannot go on. Nothing more of it is stored (no report past the take, no decision), the member
// taken is lost, and the others are left Running, to be resumed once this run has ended.
TEST(PbtStudy, APopulationWhoseMemberAnotherRunTookBackStopsAndLeavesTheOthersToResume) {
  store::MemoryStorage storage;
  auto a = open(storage);
  std::unique_ptr<Study> b;
  std::mutex taking;
  constexpr int64_t kTakenAt = 160;     // between its reports at 150 and 200
  std::map<int64_t, int64_t> ended_at;  // trial -> the step it stopped after
  const Objective objective = [&](Trial& trial) {
    Toy toy(trial.float_param("lr"));
    trial.attach(&toy);
    int64_t s = 1;
    for (; s <= kSteps; ++s) {
      toy.train_step();
      if (trial.number() == 0 && s == kTakenAt) {
        std::lock_guard lock(taking);
        storage.remove_run(a->run().id);  // as a run taken for gone is
        b = open(storage);
        auto taken = b->ask();  // the lowest-numbered member: trial 0
        EXPECT_TRUE(taken && taken->number == 0);
      }
      if (s % kEvery == 0 && !trial.report(s, toy.w(), {}, s == kSteps)) break;
    }
    trial.attach(nullptr);
    std::lock_guard lock(taking);
    ended_at[trial.number()] = s;
    return toy.w();
  };
  exec::LocalExecutor executor({.workers = kPopulation, .threads_per_worker = 1});
  a->optimize(objective, with(executor));  // returns: no member waits for trial 0
  const StudyProgress p = a->progress();
  EXPECT_EQ(p.lost_here, std::vector<int64_t>{0});
  EXPECT_THAT(p.left_here, ::testing::UnorderedElementsAre(1, 2, 3));
  EXPECT_EQ(p.finished_here, 0);
  ASSERT_EQ(ended_at.size(), static_cast<size_t>(kPopulation));
  EXPECT_EQ(ended_at[0], 200) << "trial 0's report at step 200 was refused: it stopped there";
  for (const auto& [n, step] : ended_at) {
    EXPECT_LE(step, 200) << "trial " << n << " trained past the generation at 200";
  }
  for (const TrialRecord& t : storage.trials(a->record().id)) {
    EXPECT_EQ(t.state, TrialState::Running) << "trial " << t.number;
    EXPECT_EQ(t.owner, t.number == 0 ? b->run().id : a->run().id) << "trial " << t.number;
    for (const DecisionRecord& d : t.decisions) {
      EXPECT_LT(d.step, 200) << "trial " << t.number << ": a decision of the stopped population";
    }
    for (const Report& r : t.reports) {
      EXPECT_LE(r.step, t.number == 0 ? 150 : 200) << "trial " << t.number;
    }
  }
  // Once this run ends, the members it left are re-queued to the run that resumes the study.
  a.reset();
  std::vector<int64_t> resumed;
  while (auto t = b->try_ask().trial) resumed.push_back(t->number);
  EXPECT_EQ(resumed, (std::vector<int64_t>{1, 2, 3}));
}

// A member that ended as it would have (its last report taken before the population left) keeps
// its result: only the attempts the population stopped are dropped or left.
TEST(PbtStudy, AMemberThatEndedBeforeThePopulationLeftIsStored) {
  store::MemoryStorage storage;
  auto a = open(storage);
  std::vector<TrialRecord> members;
  for (int i = 0; i < kPopulation; ++i) members.push_back(*a->ask());
  EXPECT_FALSE(a->decide(3, Report(50, 0.5)).stops());
  storage.remove_run(a->run().id);  // as a run taken for gone is
  auto b = open(storage);
  ASSERT_EQ(b->ask()->number, 0);
  const DecisionRecord left = a->decide(0, Report(50, 0.5));
  EXPECT_TRUE(left.stops());
  EXPECT_TRUE(left.lost);
  const DecisionRecord after = a->decide(1, Report(50, 0.5));  // the population has left
  EXPECT_TRUE(after.lost);
  TrialRecord done = members[3];
  settle(done, Outcome::Returned, 0.75, "", false);
  a->tell(done);  // it finished before: stored, with its lease
  const StudyProgress p = a->progress();
  EXPECT_EQ(p.finished_here, 1);
  EXPECT_TRUE(p.left_here.empty());
  for (const TrialRecord& t : storage.trials(a->record().id)) {
    if (t.number != 3) continue;
    EXPECT_EQ(t.state, TrialState::Completed);
    EXPECT_EQ(t.value, 0.75);
  }
}

// An executor that could not start every member's worker (no thread left): the members that
// started are not left waiting for the others at their first generation, which runs without
// them, and no further member is handed out (the next run starts them).
TEST(PbtStudy, AGenerationDoesNotWaitForMembersThatCannotStart) {
  store::MemoryStorage storage;
  auto study = open(storage);
  ASSERT_EQ(study->ask()->number, 0);
  ASSERT_EQ(study->ask()->number, 1);
  EXPECT_TRUE(study->submit(0, Report(kInterval, 1.0)).empty());
  EXPECT_TRUE(study->submit(1, Report(kInterval, 2.0)).empty()) << "2 of 4 members started";
  study->stop_handing_out();
  const auto released = study->take_released();
  ASSERT_EQ(released.size(), 2u);
  for (const auto& r : released) {
    EXPECT_EQ(r.decision.step, kInterval);
    EXPECT_FALSE(r.decision.stops());
  }
  EXPECT_FALSE(study->ask().has_value());
}

TEST(PbtStudy, ALivePopulationCannotBeJoined) {
  store::MemoryStorage storage;
  auto first = open(storage);
  try {
    open(storage);
    FAIL() << "a second run joined a PBT study";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("a population runs in one process"));
  }
  first.reset();
  EXPECT_NO_THROW(open(storage)) << "once the first run ended, the study resumes";
}

TEST(PbtStudy, ABudgetOtherThanThePopulationOrAStopperIsRefused) {
  store::MemoryStorage storage;
  StudyRecord r = record();
  r.n_trials = 5;
  try {
    Study s(r, space(), make_sampler("random", 5), storage, nullptr, LeaseOptions{}, pbt());
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("trials are its 4 members"));
  }
  EXPECT_THROW(Study(record(), space(), make_sampler("random", 5), storage, make_median({}),
                     LeaseOptions{}, pbt()),
               InvalidArgument);
}

}  // namespace
}  // namespace krill::hpo
