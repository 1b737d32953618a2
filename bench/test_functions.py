#!/usr/bin/env python3
"""Optuna's samplers on the test functions of bench/test_functions.cpp; one JSON line per study.

The same functions, domains and budgets as krill's side (Virtual Library of Simulation
Experiments, S. Surjanovic and D. Bingham, https://www.sfu.ca/~ssurjano/optimization.html):
Branin (2-D), Hartmann-6 (6-D), Rosenbrock (10-D on [-5, 10]^10), minimised. In-memory storage,
n_jobs 1, default sampler options (TPESampler(seed=s), RandomSampler(seed=s)). A wrapper times
every call into the sampler (sample_relative, sample_independent, infer_relative_search_space,
before/after_trial): "sampler_s" wall, "sampler_cpu_s" this thread's CPU time; "optimize_s" and
"optimize_cpu_s" (the process's CPU time) are the whole study.optimize call. CPU times are the
ones to compare on a shared machine.

--sampler tpe-fixed is Optuna's TPE with the kernel density of Optuna 3.5 and later: Debian's
Optuna 3.1 computes a truncated normal kernel's log density without its -log(sigma) term
(optuna/optuna#5109, fixed by #5110), so its TPE weighs wide kernels more than narrow ones;
tpe-fixed subtracts log(scale), as krill's TPE (and scipy.stats.truncnorm) does.

Usage: /usr/bin/python3 bench/test_functions.py --function branin --sampler tpe --trials 100 --seeds 1-20
"""
import argparse, json, math, time

import numpy as np
import optuna
from optuna.samplers._tpe import _truncnorm


def fix_truncnorm_logpdf():
    """optuna/optuna#5110 for the Optuna in use: the log density of a scaled truncated normal."""
    logpdf = _truncnorm.logpdf
    # Probe: a truncated normal of scale 2 has log density 0.5 at the middle of [-1, 1] * 2.
    if abs(logpdf(np.array([0.0]), -1.0, 1.0, loc=0.0, scale=2.0)[0] - logpdf(np.array([0.0]), -1.0, 1.0)[0]) < 1e-9:
        _truncnorm.logpdf = lambda x, a, b, loc=0, scale=1: logpdf(x, a, b, loc, scale) - np.log(scale)


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - 1e-4 * P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (x[i] - 1) ** 2 for i in range(len(x) - 1))


FUNCTIONS = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)]),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6),
    "rosenbrock10": (rosenbrock, [(-5.0, 10.0)] * 10),
}


class Timed(optuna.samplers.BaseSampler):
    """Delegates to `inner`, adding up the seconds spent in it."""

    def __init__(self, inner):
        self.inner, self.seconds, self.cpu_seconds = inner, 0.0, 0.0

    def _timed(self, name, *args):
        t0, c0 = time.perf_counter(), time.thread_time()
        r = getattr(self.inner, name)(*args)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.thread_time() - c0
        return r

    def infer_relative_search_space(self, study, trial):
        return self._timed("infer_relative_search_space", study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._timed("sample_relative", study, trial, search_space)

    def sample_independent(self, study, trial, name, distribution):
        return self._timed("sample_independent", study, trial, name, distribution)

    def before_trial(self, study, trial):
        return self._timed("before_trial", study, trial)

    def after_trial(self, study, trial, state, values):
        return self._timed("after_trial", study, trial, state, values)

    def reseed_rng(self):
        self.inner.reseed_rng()


def run(fname, sampler, trials, seed):
    f, bounds = FUNCTIONS[fname]
    inner = (optuna.samplers.TPESampler(seed=seed) if sampler.startswith("tpe")
             else optuna.samplers.RandomSampler(seed=seed))
    timed = Timed(inner)
    study = optuna.create_study(direction="minimize", sampler=timed)

    def objective(trial):
        return f([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

    t0, c0 = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=trials)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    values = [t.value for t in sorted(study.trials, key=lambda t: t.number)]
    return dict(side="optuna", function=fname, sampler=sampler, seed=seed, trials=len(values),
                sampler_s=timed.seconds, sampler_cpu_s=timed.cpu_seconds, optimize_s=wall,
                optimize_cpu_s=cpu, values=values)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--function", default="branin", choices=sorted(FUNCTIONS))
    ap.add_argument("--sampler", default="tpe", choices=["tpe", "tpe-fixed", "random"])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seeds", default="1-20")
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if a.sampler == "tpe-fixed":
        fix_truncnorm_logpdf()
    first, _, last = a.seeds.partition("-")
    for seed in range(int(first), int(last or first) + 1):
        print(json.dumps(run(a.function, a.sampler, a.trials, seed)), flush=True)


if __name__ == "__main__":
    main()
