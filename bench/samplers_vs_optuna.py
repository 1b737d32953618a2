#!/usr/bin/env python3
"""Sampler quality, krill against Optuna, side by side in one run (issue 11).

Part 1, test functions (bench/test_functions.cpp for krill, bench/test_functions.py for Optuna):
Branin (2-D), Hartmann-6 (6-D) and a 10-D Rosenbrock, minimised, --seeds seeds of --trials trials
for each of krill tpe / evolution / random and Optuna tpe / random, default options on both sides
(and krill's TPE with Optuna's defaults, "tpe-optuna")
(and Optuna's TPE with the kernel density of Optuna >= 3.5, "tpe-fixed": see test_functions.py),
in-memory storage, one trial at a time. Reports the best value after 25, 50 and 100 trials
(median and quartiles over seeds) and the cost per trial: the sampler's CPU time and the whole
optimize() call's, over a study of --trials trials.

Part 2, the MLP study of ../shared/baselines/optuna_study.py (784-512-256-10, SGD, batch 32,
1 epoch on 10,000 training images, validation accuracy on 5,000 held-out images; lr log
1e-3..0.5, momentum 0..0.95, weight_decay log 1e-6..1e-2): --mlp-trials trials for each of
--mlp-seeds seeds, krill TPE (a study file run with `krill tune`, workers 1) against Optuna TPE
(n_jobs 1, in memory, no pruner); best validation accuracy after 20 and --mlp-trials trials. Both
sides train with one thread (OPENBLAS_NUM_THREADS=1, torch threads 1, krill tune --threads 1).

Usage: /usr/bin/python3 bench/samplers_vs_optuna.py [--part functions|mlp|all] [--seeds 20]
       [--trials 100] [--mlp-seeds 10] [--mlp-trials 50]
Writes bench/results/samplers_vs_optuna.json (a part run alone replaces only its own entry) and
prints the tables of docs/BENCHMARKS.md ("Sampler quality: krill vs Optuna").
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

from study_vs_optuna import baseline_study, env1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KRILL = os.path.join(ROOT, "build", "apps", "krill", "krill")
KRILL_FUNCTIONS = os.path.join(ROOT, "build", "bench", "krill_test_functions")
OPTUNA_FUNCTIONS = os.path.join(ROOT, "bench", "test_functions.py")
OPTUNA_STUDY = os.path.join(ROOT, "..", "shared", "baselines", "optuna_study.py")
PYTHON = "/usr/bin/python3"

FUNCTIONS = ["branin", "hartmann6", "rosenbrock10"]
MINIMUM = {"branin": 0.397887, "hartmann6": -3.32237, "rosenbrock10": 0.0}
# optuna tpe-fixed: Optuna's TPE with the kernel density of Optuna >= 3.5 (bench/test_functions.py:
# Debian's Optuna 3.1 leaves out a kernel's -log(sigma), optuna/optuna#5109); krill's TPE has it.
# krill tpe-optuna: krill's TPE with Optuna's defaults (`preset: optuna`) instead of krill's.
SAMPLERS = [("krill", "tpe"), ("krill", "tpe-optuna"), ("optuna", "tpe"), ("optuna", "tpe-fixed"),
            ("krill", "evolution"), ("krill", "random"), ("optuna", "random")]
BUDGETS = [25, 50, 100]




def lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env1()).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def best_after(values, n, maximize=False):
    vs = [v for v in values[:n] if v is not None]
    return (max if maximize else min)(vs) if vs else None


def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return dict(q1=q[0], median=q[1], q3=q[2])


def functions_part(a):
    runs = []
    for fname in FUNCTIONS:
        for side, sampler in SAMPLERS:
            seeds = f"1-{a.seeds}"
            if side == "krill":
                cmd = [KRILL_FUNCTIONS, "--function", fname, "--sampler", sampler.split("-")[0],
                       "--trials", str(a.trials), "--seeds", seeds]
                if sampler == "tpe-optuna":
                    cmd += ["--tpe-preset", "optuna"]
            else:
                cmd = [PYTHON, OPTUNA_FUNCTIONS, "--function", fname, "--sampler", sampler,
                       "--trials", str(a.trials), "--seeds", seeds]
            t0 = time.perf_counter()
            rs = lines(cmd)
            for r in rs:
                r["sampler"] = sampler
            print(f"  {fname} {side} {sampler}: {len(rs)} studies, {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
            runs += rs
    summary = []
    for fname in FUNCTIONS:
        for side, sampler in SAMPLERS:
            rs = [r for r in runs if r["function"] == fname and r["side"] == side and r["sampler"] == sampler]
            row = dict(function=fname, side=side, sampler=sampler, seeds=len(rs))
            for b in BUDGETS:
                if b <= a.trials:
                    row[f"best_{b}"] = quartiles([best_after(r["values"], b) for r in rs])
            for k in ("sampler_s", "sampler_cpu_s", "optimize_s", "optimize_cpu_s"):
                row[k.replace("_s", "_ms_per_trial")] = statistics.median(
                    1e3 * r[k] / r["trials"] for r in rs)
            summary.append(row)
    for r in runs:  # keep the raw curves, shorter
        r["values"] = [None if v is None else float(f"{v:.6g}") for v in r["values"]]
    return dict(seeds=a.seeds, trials=a.trials, summary=summary, runs=runs)


def krill_mlp(data, trials, seed):
    d = tempfile.mkdtemp(prefix="krill-mlp-tpe-")
    path = os.path.join(d, "study.yaml")
    with open(path, "w") as f:
        # bench/study_vs_optuna.py's study file with TPE, one worker, evaluated at the epoch's end.
        f.write(baseline_study(data, trials, seed, workers=1, name="mlp-tpe", sampler="tpe",
                               eval_every=0, storage="study.db"))
    t0 = time.perf_counter()
    subprocess.run([KRILL, "tune", path, "--quiet", "--threads", "1"], check=True,
                   stdout=subprocess.DEVNULL, env=env1())
    wall = time.perf_counter() - t0
    out = subprocess.run([KRILL, "export", os.path.join(d, "study.db"), "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    trials_ = sorted(json.loads(out)["trials"], key=lambda t: t["number"])
    values = [t["value"] if t["state"] == "completed" else None for t in trials_]
    return dict(side="krill", seed=seed, wall_s=wall, values=values,
                params=[t["params"] for t in trials_])


def optuna_mlp(data, trials, seed):
    # --report-every past the epoch: no intermediate evaluation (krill's study evaluates once, at
    # the end, too); the value is the final validation accuracy on both sides.
    cmd = [PYTHON, OPTUNA_STUDY, "--data", data, "--trials", str(trials), "--sampler", "tpe",
           "--pruner", "none", "--storage", "memory", "--n-jobs", "1", "--threads", "1",
           "--report-every", "1000000", "--seed", str(seed)]
    d = lines(cmd)[-1]
    # n_jobs 1: the timeline's completion order is the trials' order.
    return dict(side="optuna", seed=seed, wall_s=d["wall_s"], values=[v for _, v in d["timeline"]],
                best_params=d["best_params"])


def mlp_part(a):
    runs = []
    for seed in range(1, a.mlp_seeds + 1):
        for fn in (krill_mlp, optuna_mlp):
            r = fn(a.data, a.mlp_trials, seed)
            print(f"  mlp {r['side']} seed {seed}: best {best_after(r['values'], a.mlp_trials, True):.4f}"
                  f" in {r['wall_s']:.0f} s", file=sys.stderr)
            runs.append(r)
    budgets = sorted({min(20, a.mlp_trials), a.mlp_trials})
    summary = []
    for side in ("krill", "optuna"):
        rs = [r for r in runs if r["side"] == side]
        row = dict(side=side, seeds=len(rs))
        for b in budgets:
            row[f"best_{b}"] = [best_after(r["values"], b, True) for r in rs]
            row[f"best_{b}_median"] = statistics.median(row[f"best_{b}"])
        summary.append(row)
    return dict(seeds=a.mlp_seeds, trials=a.mlp_trials, budgets=budgets, summary=summary, runs=runs)


def fmt(x):
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.3e}"


def print_tables(res):
    if "functions" in res:
        f = res["functions"]
        budgets = [b for b in BUDGETS if b <= f["trials"]]
        print(f"\nBest value after n trials, median [q1, q3] over {f['seeds']} seeds (minimised):\n")
        print("| function (minimum) | sampler | " + " | ".join(f"{b} trials" for b in budgets) + " |")
        print("|---|---|" + "---|" * len(budgets))
        for r in f["summary"]:
            cells = [f"{fmt(r[f'best_{b}']['median'])} [{fmt(r[f'best_{b}']['q1'])}, {fmt(r[f'best_{b}']['q3'])}]"
                     for b in budgets]
            print(f"| {r['function']} ({MINIMUM[r['function']]}) | {r['side']} {r['sampler']} | " +
                  " | ".join(cells) + " |")
        print(f"\nCost per trial over a {f['trials']}-trial study, ms, median over seeds "
              "(CPU time; wall in parentheses):\n")
        print("| function | sampler | sampler only | whole trial (optimize / trials) |")
        print("|---|---|---|---|")
        for r in f["summary"]:
            print(f"| {r['function']} | {r['side']} {r['sampler']} | {r['sampler_cpu_ms_per_trial']:.3f} "
                  f"({r['sampler_ms_per_trial']:.3f}) | {r['optimize_cpu_ms_per_trial']:.3f} "
                  f"({r['optimize_ms_per_trial']:.3f}) |")
    if "mlp" in res:
        m = res["mlp"]
        print(f"\nMLP study, best validation accuracy after n trials ({m['seeds']} seeds):\n")
        print("| sampler | " + " | ".join(f"{b} trials: median (each seed)" for b in m["budgets"]) + " |")
        print("|---|" + "---|" * len(m["budgets"]))
        for r in m["summary"]:
            cells = [f"{r[f'best_{b}_median']:.4f} ({', '.join(f'{v:.4f}' for v in r[f'best_{b}'])})"
                     for b in m["budgets"]]
            print(f"| {r['side']} tpe | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="all", choices=["functions", "mlp", "all"])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--mlp-seeds", type=int, default=10)
    ap.add_argument("--mlp-trials", type=int, default=50)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "samplers_vs_optuna.json"))
    ap.add_argument("--print-only", action="store_true", help="print the tables of --out, run nothing")
    a = ap.parse_args()
    res = {}
    if os.path.exists(a.out):
        with open(a.out) as f:
            res = json.load(f)
    if not a.print_only:
        if a.part in ("functions", "all"):
            res["functions"] = functions_part(a)
        if a.part in ("mlp", "all"):
            res["mlp"] = mlp_part(a)
        res.update(date=time.strftime("%Y-%m-%d %H:%M"),
                   openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
                   openblas_l2_size=os.environ.get("OPENBLAS_L2_SIZE", "<unset>"),
                   openblas_num_threads="1 (set by this script)")
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=None, separators=(",", ":"))
    print_tables(res)


if __name__ == "__main__":
    main()
