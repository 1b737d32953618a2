#include "hpo/study.hpp"

#include <algorithm>
#include <chrono>
#include <new>
#include <sstream>
#include <utility>

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
// Lines that start with one of `skip` are left out (the settings' copy of the space, the name).
void compare(std::vector<std::string>& changes, const std::string& field, const std::string& stored,
             const std::string& now, const std::vector<std::string>& skip = {}) {
  if (stored == now) return;
  auto kept = [&](const std::string& s) {
    std::vector<std::string> out;
    for (auto& line : lines_of(s)) {
      // A blank line separates sections (`stopping:`, `pbt:`): one added or removed is no change.
      const bool skipped =
          line.empty() ||
          std::any_of(skip.begin(), skip.end(), [&](const auto& p) { return line.starts_with(p); });
      if (!skipped) out.push_back(std::move(line));
    }
    return out;
  };
  const auto a = kept(stored), b = kept(now);
  if (a == b) return;
  if (lines_of(stored).size() <= 1 && lines_of(now).size() <= 1) {
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
             Storage& storage, std::unique_ptr<Stopper> stopper, LeaseOptions lease,
             std::unique_ptr<Pbt> pbt)
    : record_(std::move(record)),
      space_(std::move(space)),
      sampler_(std::move(sampler)),
      stopper_(std::move(stopper)),
      pbt_(std::move(pbt)),
      storage_(storage),
      lease_(lease) {
  if (stopper_) record_.config += "\nstopping: " + stopper_->describe();
  if (pbt_) {
    if (stopper_) {
      throw InvalidArgument("study '" + record_.name +
                            "': PBT and an early-stopping rule do not combine (PBT replaces the "
                            "least fit members instead of stopping them)");
    }
    if (record_.n_trials != pbt_->options().population) {
      throw InvalidArgument("study '" + record_.name + "': a PBT study's trials are its " +
                            std::to_string(pbt_->options().population) +
                            " members (the population), got a budget of " +
                            std::to_string(record_.n_trials) + " trials");
    }
    record_.config += "\npbt: " + pbt_->describe();
  }
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
    // difference above, unreadably: the space is compared once, above. A `study: ` line is the
    // name, which earlier study files wrote into their settings: a study renamed or copied under
    // another name keeps the old one there, and the name is the study's key, not a setting.
    std::vector<std::string> skip = {"study: "};
    if (stored->space != record_.space) skip.emplace_back("space: ");
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
  if (pbt_) {  // a population's generations are kept by one process: it cannot be joined
    const double now = wall_seconds();
    for (const RunRecord& r : storage_.runs(record_.id)) {
      if (run_is_gone(r, now, lease_.grace)) continue;
      throw InvalidArgument("study '" + record_.name + "' is a PBT population being trained by " +
                            "process " + std::to_string(r.pid) + " on " + r.host +
                            ": a population runs in one process (or one MPI job), wait for it "
                            "to end or stop it");
    }
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

void Study::stop_handing_out() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (pbt_) release_generations_locked();
  trial_ended_.notify_all();
}

Study::Handout Study::try_ask_locked(int worker) {
  if (cancelled() || closing_ || pbt_left_ || stopped_) return {};
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
  request.keep_history = pbt_ != nullptr;
  if (wall_seconds() - local_runs_at_.load() > 0.25) refresh_local_runs();
  request.started = wall_seconds();
  Claim claim = storage_.claim_trial(record_.id, request);
  exhausted_ = exhausted_ || claim.exhausted;
  if (claim.finished != finished_) reload_history();  // other runs finished trials
  if (claim.trial) {
    ++running_;
    if (stopper_ || pbt_) {
      TrialRecord& kept = running_trials_[claim.trial->number] = *claim.trial;
      if (pbt_ && claim.requeued) {  // a member resumes: its curve and lineage so far
        for (TrialRecord& t : storage_.trials(record_.id)) {
          if (t.number != kept.number) continue;
          kept.reports = std::move(t.reports);
          kept.decisions = std::move(t.decisions);
        }
      }
    }
    return {std::move(claim.trial), false};
  }
  if (claim.finished >= record_.n_trials) return {};
  // Trials still running may yet fail to finish (their process may die and leave them to be
  // re-queued): wait for them, if they are another run's, or this run's on other workers.
  const int64_t others = claim.running - running_;
  return {std::nullopt, others > 0 || (active_ && running_ > 0)};
}

void Study::tell(TrialRecord trial) {
  tell(std::move(trial), false);
}

void Study::tell(TrialRecord trial, bool lost_attempt) {
  if (trial.state == TrialState::Running) {
    throw InvalidArgument("tell(): trial " + std::to_string(trial.number) + " is still running");
  }
  if (trial.finished == 0) trial.finished = wall_seconds();
  StudyProgress p;
  bool stored = true;
  {
    std::lock_guard lock(mutex_);
    if (pbt_left_ && lost_attempt) {
      // This run's population stopped this member: another run holds it (lost), or this one
      // still does (left Running, re-queued once this run ends, resumed from its saved states).
      // A member that ended as it would have (it finished first) is stored below.
      stored = false;
      bool held = false;
      for (const TrialRecord& t : storage_.trials(record_.id)) {
        if (t.number == trial.number) held = t.owner == run_.id;
      }
      (held ? left_here_ : lost_here_).push_back(trial.number);
    } else {
      try {
        storage_.finish_trial(record_.id, trial);
      } catch (const LeaseLost&) {
        stored = false;  // another run holds the trial now: its attempt is the one that counts
        lost_here_.push_back(trial.number);
      }
    }
    // The curve so far travels with the trial into the history (stoppers match against it).
    if (auto it = running_trials_.find(trial.number); it != running_trials_.end()) {
      if (trial.reports.empty()) trial.reports = std::move(it->second.reports);
      if (trial.decisions.empty()) trial.decisions = std::move(it->second.decisions);
      running_trials_.erase(it);
    }
    if (pbt_) {  // a generation may have waited for this member only
      live_step_.erase(trial.number);
      waiting_.erase(trial.number);
      offered_.erase(trial.number);
      donor_state_.erase(trial.number);
      release_generations_locked();
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
  if (pbt_) generation_cv_.notify_all();
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

namespace {
// Puts `item` in `items` (sorted by step) in its step's place, replacing one of the same step.
template <class T>
void keep_by_step(std::vector<T>& items, const T& item) {
  auto at = std::lower_bound(items.begin(), items.end(), item.step,
                             [](const T& r, int64_t step) { return r.step < step; });
  if (at != items.end() && at->step == item.step) {
    *at = item;
  } else {
    items.insert(at, item);
  }
}
}  // namespace

TrialRecord* Study::record_report_locked(int64_t number, const Report& report) {
  auto it = running_trials_.find(number);
  if (it == running_trials_.end()) return nullptr;
  keep_by_step(it->second.reports, report);
  if (pbt_) {
    live_step_[number] = report.step;
    // A decision at this step or later is one a re-queued member made before its run died,
    // after the state it restarts from: it is made again.
    std::erase_if(it->second.decisions,
                  [&](const DecisionRecord& d) { return d.step >= report.step; });
  }
  return &it->second;
}

DecisionRecord Study::stopper_decision_locked(TrialRecord& trial, const Report& report,
                                              const std::string& owner) {
  std::vector<TrialRecord> running;
  running.reserve(running_trials_.size());
  for (const auto& [n, t] : running_trials_) running.push_back(t);
  const StopDecision d =
      stopper_->decide(StudyView{record_.direction, history_, running}, trial, report);
  DecisionRecord rec;
  rec.step = report.step;
  rec.action = d.stop ? Action::Stop : Action::Continue;
  rec.reason = d.reason;
  rec.prediction = d.prediction;
  storage_.add_decision(record_.id, trial.number, rec, owner);
  keep_by_step(trial.decisions, rec);
  return rec;
}

DecisionRecord Study::decide(int64_t number, const Report& report, Trainable* trainable) {
  // A PBT member that throws would stall its generation, which waits for every member.
  if (pbt_) return decide_or_leave(number, report, trainable);
  return decide_as(number, report, trainable, run_.id);
}

namespace {

DecisionRecord lost_stop(int64_t step) {
  DecisionRecord rec;
  rec.step = step;
  rec.action = Action::Stop;
  rec.reason = "taken back by another run (this one was silent past the grace period)";
  rec.lost = true;
  return rec;
}

}  // namespace

DecisionRecord Study::decide_or_leave(int64_t number, const Report& report, Trainable* trainable) {
  try {
    return decide_as(number, report, trainable, run_.id);
  } catch (const LeaseLost&) {
    if (pbt_) {
      std::lock_guard lock(mutex_);
      leave_population_locked();
    }
    return lost_stop(report.step);
  }
}

void Study::leave_population_locked() {
  pbt_left_ = true;
  for (const auto& [n, step] : waiting_) released_.push_back({n, lost_stop(step)});
  waiting_.clear();
  generation_cv_.notify_all();
  trial_ended_.notify_all();  // ask() no longer waits: this run hands out nothing more
}

DecisionRecord Study::decide_as(int64_t number, const Report& report, Trainable* trainable,
                                const std::string& owner) {
  const bool generation = pbt_ && pbt_->decides_at(report);
  if (pbt_ && !owner.empty()) {  // this run's population stopped: nothing more is stored
    std::lock_guard lock(mutex_);
    if (pbt_left_) return lost_stop(report.step);
  }
  State offered;
  if (generation) {
    if (!trainable) {
      throw InvalidArgument("trial " + std::to_string(number) +
                            ": a PBT study needs an objective that attaches a Trainable "
                            "(hpo::Trial::attach), so that members can copy each other");
    }
    offered = std::make_shared<const std::vector<uint8_t>>(trainable->save());
  }
  // LeaseLost when another run took the trial back (this one was taken for gone): the attempt
  // ends here, its curve kept apart from the new attempt's (tell() then drops it).
  storage_.add_report(record_.id, number, report, owner);
  if (wall_seconds() - local_runs_at_.load() > 0.25) refresh_local_runs();
  DecisionRecord rec;
  rec.step = report.step;
  if (!stopper_ && !pbt_) return rec;
  std::unique_lock lock(mutex_);  // stoppers keep state: one decision at a time
  TrialRecord* trial = record_report_locked(number, report);
  if (!trial) return rec;
  // A trial's final report is a result, not a point to stop at: a rule asked there would call a
  // trial that trained its whole length "stopped" (as Optuna's loop does when it asks its pruner
  // after the last step), keeping it out of `best` and below completed trials for TPE.
  if (!generation) {
    return stopper_ && !report.last ? stopper_decision_locked(*trial, report, owner) : rec;
  }

  if (pbt_left_) return lost_stop(report.step);  // stopped while this report was stored
  offered_[number] = {report.step, std::move(offered)};
  wait_at_generation_locked(number, report);
  const auto poll = std::chrono::duration<double>(active_ ? active_->poll_seconds : 0.1);
  for (;;) {
    auto it = std::find_if(released_.begin(), released_.end(),
                           [number](const Released& r) { return r.number == number; });
    if (it != released_.end()) {
      rec = std::move(it->decision);
      released_.erase(it);
      break;
    }
    if (pbt_left_) {
      rec = lost_stop(report.step);
      break;
    }
    generation_cv_.wait_for(lock, poll);
    release_generations_locked();  // a cancelled study no longer waits for unstarted members
  }
  offered_.erase(number);
  State donor;
  if (auto it = donor_state_.find(number); it != donor_state_.end()) {
    donor = std::move(it->second);
    donor_state_.erase(it);
  }
  lock.unlock();
  if (rec.action == Action::Exploit) {
    if (!donor) {
      throw Error("trial " + std::to_string(number) + ": the state of donor trial " +
                  std::to_string(rec.donor) + " at step " + std::to_string(rec.donor_step) +
                  " is not available");
    }
    trainable->load(*donor);
    trainable->set_params(rec.params);
  }
  return rec;
}

std::vector<Study::Released> Study::submit(int64_t number, const Report& report) {
  // A worker's trial this run lost (the manager was taken for gone) is told to stop; its result
  // is then dropped by tell(). Not a PBT member's: its worker would then remove the member's
  // saved states, now the other attempt's (a Decision does not carry `lost`).
  if (!pbt_) return {{number, decide_or_leave(number, report, nullptr)}};
  if (!pbt_->decides_at(report)) return {{number, decide_as(number, report, nullptr, {})}};
  storage_.add_report(record_.id, number, report);
  std::lock_guard lock(mutex_);
  if (!record_report_locked(number, report)) {
    DecisionRecord rec;
    rec.step = report.step;
    return {{number, rec}};
  }
  wait_at_generation_locked(number, report);
  return std::exchange(released_, {});
}

std::vector<Study::Released> Study::take_released() {
  std::lock_guard lock(mutex_);
  if (pbt_) release_generations_locked();
  return std::exchange(released_, {});
}

void Study::wait_at_generation_locked(int64_t number, const Report& report) {
  waiting_[number] = report.step;
  release_generations_locked();
}

Params Study::member_params_locked(const TrialRecord& t) const {
  for (auto it = t.decisions.rbegin(); it != t.decisions.rend(); ++it) {
    if (it->action == Action::Exploit) return it->params;
  }
  return t.params;
}

void Study::release_generations_locked() {
  if (pbt_left_) return;  // leave_population_locked() released every waiting member
  bool released = false;
  while (!waiting_.empty()) {
    int64_t step = waiting_.begin()->second;
    for (const auto& [n, s] : waiting_) step = std::min(step, s);
    // Every member must be at `step` or past it: none still to start (unless the study no longer
    // hands out trials), none running behind.
    const auto started = finished_ + static_cast<int64_t>(running_trials_.size());
    if (started < record_.n_trials && !cancelled() && !closing_ && !stopped_) break;
    bool behind = false;
    for (const auto& [n, t] : running_trials_) {
      const auto live = live_step_.find(n);
      if (live == live_step_.end() || live->second < step) behind = true;
    }
    if (behind) break;

    std::vector<PbtMember> members;
    auto value_at = [step](const TrialRecord& t) -> std::optional<double> {
      auto at = std::lower_bound(t.reports.begin(), t.reports.end(), step,
                                 [](const Report& r, int64_t s) { return r.step < s; });
      if (at == t.reports.end() || at->step != step) return std::nullopt;
      return at->value;
    };
    for (const auto& [n, t] : running_trials_) {
      if (auto v = value_at(t)) {
        auto w = waiting_.find(n);
        members.push_back(
            {n, *v, w != waiting_.end() && w->second == step, member_params_locked(t)});
      }
    }
    for (const TrialRecord& t : history_) {
      if (auto v = value_at(t)) members.push_back({t.number, *v, false, {}});
    }
    const std::vector<DecisionRecord> decisions =
        pbt_->generation(step, record_.direction, members);
    size_t next = 0;
    for (const PbtMember& m : members) {
      if (!m.waiting) continue;
      const DecisionRecord& d = decisions.at(next++);
      // A generation's decisions, for every waiting member at once: not checked against the
      // lease (PBT reports are not either: decide()).
      storage_.add_decision(record_.id, m.number, d);
      keep_by_step(running_trials_.at(m.number).decisions, d);
      if (d.action == Action::Exploit) {
        auto offer = offered_.find(d.donor);
        if (offer != offered_.end() && offer->second.first == d.donor_step) {
          donor_state_[m.number] = offer->second.second;
        }
      }
      released_.push_back({m.number, d});
      waiting_.erase(m.number);
    }
    released = true;
  }
  if (released) generation_cv_.notify_all();
}

void Study::run_trial(TrialRecord rec, const Objective& objective, int threads) {
  run_trial(std::move(rec), objective, [threads] { return threads; });
}

void Study::run_trial(TrialRecord rec, const Objective& objective,
                      std::function<int()> thread_budget) {
  Trial trial(rec.number, rec.params,
              ReportHost([this, number = rec.number](const Report& r, Trainable* t) {
                return decide(number, r, t);
              }));
  trial.set_resources(rec.worker, std::move(thread_budget));
  GroupObjective::Result result;
  try {
    result = objective(trial);
  } catch (...) {
    result = std::current_exception();
  }
  conclude(std::move(rec), trial, result);
}

void Study::conclude(TrialRecord rec, const Trial& trial, const GroupObjective::Result& result) {
  if (const double* value = std::get_if<double>(&result)) {
    settle(rec, Outcome::Returned, *value, "", trial.should_stop());
  } else {
    try {
      std::rethrow_exception(std::get<std::exception_ptr>(result));
    } catch (const Diverged& e) {
      settle(rec, Outcome::Diverged, 0, e.what(), false);
    } catch (const std::bad_alloc&) {  // what() says only "std::bad_alloc"
      settle(rec, Outcome::Threw, 0, "out of memory (std::bad_alloc)", false);
    } catch (const std::exception& e) {
      settle(rec, Outcome::Threw, 0, e.what(), false);
    }
  }
  rec.attrs = trial.attrs();
  rec.finished = wall_seconds();
  tell(std::move(rec), trial.last_decision().lost);
}

void Study::run_trials(std::vector<TrialRecord> recs, GroupObjective& objective,
                       std::function<int()> thread_budget) {
  std::vector<std::unique_ptr<Trial>> trials;
  std::vector<Trial*> pointers;
  for (const TrialRecord& rec : recs) {
    // The members train together: one another run took back leaves at its report (a throw
    // would end the others), and tell() drops its result.
    trials.push_back(std::make_unique<Trial>(
        rec.number, rec.params,
        ReportHost([this, number = rec.number](const Report& r, Trainable* t) {
          return decide_or_leave(number, r, t);
        })));
    trials.back()->set_resources(rec.worker, thread_budget);
    pointers.push_back(trials.back().get());
  }
  std::vector<char> told(recs.size(), 0);
  std::mutex told_mutex;  // members may finish from several threads
  const GroupObjective::Finish finish = [&](size_t i, GroupObjective::Result result) {
    {
      std::lock_guard lock(told_mutex);
      if (i >= recs.size() || told[i]) return;
      told[i] = 1;
    }
    conclude(std::move(recs[i]), *trials[i], result);
  };
  try {
    objective.run(pointers, finish);
  } catch (...) {
    const auto error = std::current_exception();
    for (size_t i = 0; i < recs.size(); ++i) finish(i, error);
  }
  for (size_t i = 0; i < recs.size(); ++i) {
    finish(i, std::make_exception_ptr(Error("the group objective gave trial " +
                                            std::to_string(trials[i]->number()) + " no result")));
  }
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
    lost_here_.clear();
    left_here_.clear();
  }
  struct Reset {
    Study* s;
    ~Reset() {
      std::lock_guard lock(s->mutex_);
      s->active_ = nullptr;
    }
  } reset{this};
  if (pbt_ && !options.executor) {
    throw InvalidArgument("study '" + record_.name + "': a PBT population of " +
                          std::to_string(pbt_->options().population) +
                          " members trains at once; optimize() needs an executor with as many "
                          "workers");
  }
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
  p.lost_here = lost_here_;
  p.left_here = left_here_;
  p.exhausted = exhausted_;
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
