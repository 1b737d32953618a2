#include "hpo/study.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace krill::hpo {

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The name a line of a fingerprint is about: the text before its first ": " (the whole line when
// it has none).
std::string name_of(const std::string& line) {
  return line.substr(0, line.find(": "));
}

std::string names_of(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : ", ") + name_of(line);
  return out;
}

// "field: stored 'a', now 'b'" for each field that differs; for multi-line texts (the space's
// fingerprint), the lines that differ, and the order of the lines both have when it differs (a
// space's dimensions in another order: samplers fill them in order, so it is another space).
// Lines that start with one of `skip` are left out (the settings' copy of the space).
void compare(std::vector<std::string>& changes, const std::string& field, const std::string& stored,
             const std::string& now, const std::vector<std::string>& skip = {}) {
  if (stored == now) return;
  auto kept = [&](const std::string& s) {
    std::vector<std::string> out;
    for (auto& line : lines_of(s)) {
      const bool skipped = std::any_of(skip.begin(), skip.end(),
                                       [&](const std::string& p) { return line.starts_with(p); });
      if (!skipped) out.push_back(std::move(line));
    }
    return out;
  };
  const auto a = kept(stored), b = kept(now);
  if (a == b) return;
  if (a.size() <= 1 && b.size() <= 1 && skip.empty()) {
    changes.push_back(field + ": stored '" + stored + "', now '" + now + "'");
    return;
  }
  std::string text = field + ":";
  std::vector<std::string> common_a, common_b;  // the lines both have, in each one's order
  for (const auto& line : a) {
    if (std::find(b.begin(), b.end(), line) == b.end()) {
      text += " -'" + line + "'";
    } else {
      common_a.push_back(line);
    }
  }
  for (const auto& line : b) {
    if (std::find(a.begin(), a.end(), line) == a.end()) {
      text += " +'" + line + "'";
    } else {
      common_b.push_back(line);
    }
  }
  if (common_a != common_b) {
    const std::string items = field == "search space" ? "dimensions" : "lines";
    const bool only_order = common_a.size() == a.size() && common_b.size() == b.size();
    text += (only_order ? " the same " + items : ", the " + items + " both have") +
            " in another order (was: " + names_of(common_a) + "; now: " + names_of(common_b) + ")";
  }
  changes.push_back(text);
}

}  // namespace

Study::Study(StudyRecord record, SearchSpace space, std::unique_ptr<Sampler> sampler,
             Storage& storage, std::unique_ptr<Stopper> stopper, LeaseOptions lease)
    : record_(std::move(record)),
      space_(std::move(space)),
      sampler_(std::move(sampler)),
      stopper_(std::move(stopper)),
      storage_(storage),
      lease_(lease) {
  if (stopper_) record_.config += "\nstopping: " + stopper_->describe();
  if (record_.name.empty()) throw InvalidArgument("a study needs a name");
  if (record_.n_trials < 0) throw InvalidArgument("a study's number of trials must be >= 0");
  if (!sampler_) throw InvalidArgument("study '" + record_.name + "' has no sampler");
  if (!(lease_.heartbeat > 0) || !(lease_.grace > lease_.heartbeat)) {
    throw InvalidArgument("a lease needs heartbeat > 0 and grace > heartbeat (seconds)");
  }
  record_.space = space_.fingerprint();
  record_.sampler = sampler_->describe();

  auto stored = storage_.find_study(record_.name);
  if (!stored) {
    record_.created = wall_seconds();
    try {
      record_.id = storage_.create_study(record_);
    } catch (const InvalidArgument&) {  // another process created it first: join it
      stored = storage_.find_study(record_.name);
      if (!stored) throw;
    }
  }
  if (stored) {
    std::vector<std::string> changes;
    compare(changes, "search space", stored->space, record_.space);
    // A settings text that holds the space (`space: "..."`, escaped to one line) would repeat the
    // difference above, unreadably: the space is compared once, above.
    const std::vector<std::string> skip = stored->space != record_.space
                                              ? std::vector<std::string>{"space: "}
                                              : std::vector<std::string>{};
    compare(changes, "sampler", stored->sampler, record_.sampler);
    compare(changes, "objective", stored->objective, record_.objective);
    compare(changes, "direction", to_string(stored->direction), to_string(record_.direction));
    compare(changes, "settings", stored->config, record_.config, skip);
    if (!changes.empty()) {
      std::string msg = "study '" + record_.name + "' already exists with other settings (";
      for (size_t i = 0; i < changes.size(); ++i) msg += (i ? "; " : "") + changes[i];
      throw InvalidArgument(msg + "): use another study name or storage file to start afresh");
    }
    const int64_t budget = record_.n_trials;
    record_ = *stored;
    if (budget != record_.n_trials) {
      storage_.set_trial_budget(record_.id, budget);
      record_.n_trials = budget;
    }
    reload_history();
  }
  run_ = this_run();
  storage_.add_run(record_.id, run_);
  heartbeat_ = std::thread(&Study::heartbeat_loop, this);
}

Study::~Study() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  trial_ended_.notify_all();
  closing_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  try {
    storage_.remove_run(run_.id);
  } catch (const std::exception&) {  // the run's heartbeat stops; others will take it for gone
  }
}

void Study::heartbeat_loop() {
  const auto interval = std::chrono::duration<double>(lease_.heartbeat);
  std::unique_lock lock(mutex_);
  while (!closing_) {
    closing_cv_.wait_for(lock, interval, [this] { return closing_; });
    if (closing_) break;
    lock.unlock();
    try {
      // Taken for gone (silent past the grace period) but alive: register again. Trials that
      // another run has re-queued meanwhile are its now (tell() drops ours: LeaseLost).
      if (!storage_.heartbeat(run_.id, wall_seconds())) storage_.add_run(record_.id, run_);
    } catch (const std::exception&) {  // a busy or failing database: try again next beat
    }
    lock.lock();
  }
}

void Study::reload_history() {
  history_.clear();
  finished_ = failed_ = 0;
  best_.reset();
  for (TrialRecord& t : storage_.trials(record_.id)) {
    if (t.state == TrialState::Running) continue;
    count(t);
    history_.push_back(std::move(t));
  }
}

void Study::count(const TrialRecord& t) {
  ++finished_;
  if (t.state == TrialState::Failed || t.state == TrialState::Diverged) ++failed_;
  if (t.state == TrialState::Completed && t.value && (!best_ || better(*t.value, *best_))) {
    best_ = t.value;
  }
}

bool Study::better(double a, double b) const {
  return record_.direction == Direction::Maximize ? a > b : a < b;
}

bool Study::cancelled() const {
  return active_ && active_->cancel && active_->cancel->load();
}

std::optional<TrialRecord> Study::ask(int worker) {
  std::unique_lock lock(mutex_);
  const auto poll = std::chrono::duration<double>(active_ ? active_->poll_seconds : 0.1);
  for (;;) {
    Handout h = try_ask_locked(worker);
    if (h.trial || !h.wait) return std::move(h.trial);
    trial_ended_.wait_for(lock, poll);
  }
}

Study::Handout Study::try_ask(int worker) {
  std::lock_guard lock(mutex_);
  return try_ask_locked(worker);
}

Study::Handout Study::try_ask_locked(int worker) {
  if (cancelled() || closing_) return {};
  ClaimRequest request;
  request.owner = run_.id;
  request.worker = worker;
  request.budget = record_.n_trials;
  request.gone = [this](const RunRecord& r) {  // called under mutex_, by claim_trial
    const double now = wall_seconds();
    auto [seen, fresh] = gone_seen_.try_emplace(r.id, false, 0.0);
    if (fresh || now - seen->second.second > 1.0) {
      seen->second = {run_is_gone(r, now, lease_.grace), now};
    }
    return seen->second.first;
  };
  request.propose = [this](int64_t number) { return sampler_->sample(space_, number, history_); };
  if (wall_seconds() - local_runs_at_.load() > 0.25) refresh_local_runs();
  request.started = wall_seconds();
  Claim claim = storage_.claim_trial(record_.id, request);
  if (claim.finished != finished_) reload_history();  // other runs finished trials
  if (claim.trial) {
    ++running_;
    if (stopper_) running_trials_[claim.trial->number] = *claim.trial;
    return {std::move(claim.trial), false};
  }
  if (claim.finished >= record_.n_trials) return {};
  // Trials still running may yet fail to finish (their process may die and leave them to be
  // re-queued): wait for them, if they are another run's, or this run's on other workers.
  const int64_t others = claim.running - running_;
  return {std::nullopt, others > 0 || (active_ && running_ > 0)};
}

void Study::tell(TrialRecord trial) {
  if (trial.state == TrialState::Running) {
    throw InvalidArgument("tell(): trial " + std::to_string(trial.number) + " is still running");
  }
  if (trial.finished == 0) trial.finished = wall_seconds();
  StudyProgress p;
  bool stored = true;
  {
    std::lock_guard lock(mutex_);
    try {
      storage_.finish_trial(record_.id, trial);
    } catch (const LeaseLost&) {
      stored = false;  // another run holds the trial now: its attempt is the one that counts
    }
    // The curve so far travels with the trial into the history (stoppers match against it).
    if (auto it = running_trials_.find(trial.number); it != running_trials_.end()) {
      if (trial.reports.empty()) trial.reports = std::move(it->second.reports);
      if (trial.decisions.empty()) trial.decisions = std::move(it->second.decisions);
      running_trials_.erase(it);
    }
    --running_;
    if (stored) {
      count(trial);
      ++finished_here_;
      if (trial.state == TrialState::Failed || trial.state == TrialState::Diverged) {
        if (failed_here_++ == 0) {
          first_error_ = "trial " + std::to_string(trial.number) + ": " + trial.error;
        }
      }
      history_.push_back(std::move(trial));
    }
    p = progress_locked();
  }
  trial_ended_.notify_all();
  if (stored && active_ && active_->on_progress) active_->on_progress(p);
}

void Study::refresh_local_runs() {
  const double now = wall_seconds();
  local_runs_at_ = now;
  int live = 0;
  const std::string host = this_host();
  for (const RunRecord& r : storage_.runs(record_.id)) {
    live += r.id == run_.id || (r.host == host && !run_is_gone(r, now, lease_.grace));
  }
  local_runs_ = std::max(1, live);
}

DecisionRecord Study::decide(int64_t number, const Report& report) {
  storage_.add_report(record_.id, number, report);
  if (wall_seconds() - local_runs_at_.load() > 0.25) refresh_local_runs();
  DecisionRecord rec;
  rec.step = report.step;
  if (!stopper_) return rec;
  std::lock_guard lock(mutex_);  // stoppers keep state: one decision at a time
  auto it = running_trials_.find(number);
  if (it == running_trials_.end()) return rec;
  TrialRecord& trial = it->second;
  auto& reports = trial.reports;
  auto at = std::lower_bound(reports.begin(), reports.end(), report.step,
                             [](const Report& r, int64_t step) { return r.step < step; });
  if (at != reports.end() && at->step == report.step) {
    *at = report;
  } else {
    reports.insert(at, report);
  }
  std::vector<TrialRecord> running;
  running.reserve(running_trials_.size());
  for (const auto& [n, t] : running_trials_) running.push_back(t);
  const StopDecision d =
      stopper_->decide(StudyView{record_.direction, history_, running}, trial, report);
  rec.stop = d.stop;
  rec.reason = d.reason;
  rec.prediction = d.prediction;
  storage_.add_decision(record_.id, number, rec);
  trial.decisions.push_back(rec);
  return rec;
}

void Study::run_trial(TrialRecord rec, const Objective& objective, int threads) {
  run_trial(std::move(rec), objective, [threads] { return threads; });
}

void Study::run_trial(TrialRecord rec, const Objective& objective,
                      std::function<int()> thread_budget) {
  Trial trial(rec.number, rec.params,
              [this, number = rec.number](const Report& r) { return report(number, r); });
  trial.set_resources(rec.worker, std::move(thread_budget));
  try {
    const double value = objective(trial);
    settle(rec, Outcome::Returned, value, "", trial.should_stop());
  } catch (const Diverged& e) {
    settle(rec, Outcome::Diverged, 0, e.what(), false);
  } catch (const std::exception& e) {
    settle(rec, Outcome::Threw, 0, e.what(), false);
  }
  rec.attrs = trial.attrs();
  rec.finished = wall_seconds();
  tell(std::move(rec));
}

void Study::optimize(const Objective& objective, const OptimizeOptions& options) {
  {
    std::lock_guard lock(mutex_);
    if (active_) throw InvalidArgument("study '" + record_.name + "' is already being optimized");
    active_ = &options;
    started_at_ = wall_seconds();
    finished_at_start_ = finished_;
    finished_here_ = failed_here_ = 0;
    first_error_.clear();
  }
  struct Reset {
    Study* s;
    ~Reset() {
      std::lock_guard lock(s->mutex_);
      s->active_ = nullptr;
    }
  } reset{this};
  if (options.executor) {
    options.executor->run(*this, objective);
  } else {
    while (auto t = ask(0)) run_trial(std::move(*t), objective, 1);
  }
}

std::vector<TrialRecord> Study::trials() const {
  return storage_.trials(record_.id);
}

std::optional<TrialRecord> Study::best_trial() const {
  return best_of(trials());
}

std::optional<TrialRecord> best_of(const std::vector<TrialRecord>& trials, Direction direction) {
  const TrialRecord* best = nullptr;
  for (const TrialRecord& t : trials) {
    if (t.state != TrialState::Completed || !t.value) continue;
    if (!best ||
        (direction == Direction::Maximize ? *t.value > *best->value : *t.value < *best->value)) {
      best = &t;
    }
  }
  return best ? std::optional<TrialRecord>(*best) : std::nullopt;
}

std::optional<TrialRecord> Study::best_of(const std::vector<TrialRecord>& trials) const {
  return hpo::best_of(trials, record_.direction);
}

StudyProgress Study::progress() const {
  std::lock_guard lock(mutex_);
  return progress_locked();
}

StudyProgress Study::progress_locked() const {
  StudyProgress p;
  p.finished = finished_;
  p.failed = failed_;
  p.running = running_;
  p.total = record_.n_trials;
  p.best = best_;
  p.finished_here = finished_here_;
  p.failed_here = failed_here_;
  p.first_error = first_error_;
  if (active_) {
    p.elapsed = wall_seconds() - started_at_;
    const int64_t done_here = std::max<int64_t>(finished_here_, finished_ - finished_at_start_);
    const int64_t left = std::max<int64_t>(0, record_.n_trials - finished_);
    p.eta =
        done_here > 0 ? p.elapsed / static_cast<double>(done_here) * static_cast<double>(left) : 0;
  }
  return p;
}

}  // namespace krill::hpo
