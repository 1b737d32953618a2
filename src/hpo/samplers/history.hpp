// What the samplers that learn (TPE, regularized evolution) take from a study's history, and how
// they rank it. Both keep the promise of the stateless samplers: the proposal for trial n depends
// only on the space, n, the seed and the finished trials numbered below n.
//
// Which trials count, and how they are ranked (best first):
//  1. Completed trials, by value (the study's direction), ties by number;
//  2. Stopped trials (ended by an early-stopping rule, Optuna's PRUNED), after every completed
//     one: those that reached a later step first, then by their last reported value, then by
//     number, as Optuna's TPE ranks pruned trials;
//  3. Diverged trials (a NaN/Inf loss), last, by number. Optuna ignores them (a NaN value is a
//     FAIL there), but a diverged configuration is a bad one (a learning rate too high), and
//     ranking it last tells TPE's g(x) and the evolution's tournaments so.
// Failed trials (the objective threw) are not used: the failure may have nothing to do with the
// parameters (a full disk, a bug). Running trials are not used either.
#pragma once

#include <cstdint>
#include <vector>

#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo::samplers {

// The trials of `history` that a proposal for trial `number` may use: finished, numbered below
// `number`, in a state listed above, with a valid value for every dimension of `space`; sorted by
// number. Pointers into `history`.
std::vector<const TrialRecord*> usable_trials(const std::vector<TrialRecord>& history,
                                              int64_t number, const SearchSpace& space);

// True when `a` ranks strictly before `b` (see above): a strict weak order, total over numbers.
bool ranks_before(const TrialRecord& a, const TrialRecord& b, Direction direction);

// `trials` sorted best first.
std::vector<const TrialRecord*> ranked(std::vector<const TrialRecord*> trials, Direction direction);

}  // namespace krill::hpo::samplers
