#!/usr/bin/env python3
"""The poster's learning-rate experiments on MNIST with krill: a static against a decaying
learning rate (5% less every 100 iterations), the final accuracy against the initial rate, and
Learning Curve Matching against random search at the same compute budget.

Usage: experiments/learning-rate/run.py [--seeds 5] [--mnist DIR] [--out DIR] [--parts A,C,D]
  (build krill first: scripts/build.sh). MNIST is read from --mnist, default ../shared/data/mnist
  relative to the repository root (any folder of the four IDX files). Standard library only.

Every study: the first --subset training images (default 10,000), 20% of them held out for
validation; a 784-128-64-10 network (hidden "128,64": three fully connected layers), SGD,
batch 32, --iterations steps (default 1000), a curve point every 50; the objective is the final
validation accuracy; the test set scores the best trial of each study once.

Parts (each repeated for seeds 1..--seeds; the study seed sets the validation split, and each
trial's initialisation and data order are derived from it and the trial number):
  A  schedules: lr 0.0016 (the poster's), static vs step decay (schedule grid, 2 trials):
     graph A (learning rate against iteration) and graph B (validation accuracy against
     iteration);
  C  sweep: initial lr on a log grid 1e-4..1 x the two schedules: graph C (final accuracy
     against the initial rate);
  D  budget: random search over lr (log 1e-4..0.3) and momentum (0..0.95), step decay, the same
     sampler seed in every arm: no stopping with --trials trials, against LCM on the objective,
     on the validation loss and on the training loss, each given the same total of training
     iterations (the no-stopping arm's: trials x iterations). krill has no compute budget: the
     driver resumes a stopping arm's study with more trials until the iterations of its trials
     reach the budget (the last round may overshoot by less than one trial's worth).
--parts C (say) reruns part C only and keeps the other parts' rows of an existing results.json.
Writes into --out: results.json (one row per study, plus the per-seed curves of part A),
summary.md (the tables) and figures/ (krill report --png --by of seed 1: figures/schedules,
figures/sweep, figures/budget-<arm>). Studies (files and databases) go to --out/studies.
"""
import argparse, csv, io, json, math, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KRILL = os.path.join(ROOT, "build", "apps", "krill", "krill")

POSTER_LR = 0.0016
SWEEP_LRS = [1e-4, 3e-4, 1e-3, 0.0016, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
EVAL_EVERY = 50

STUDY = """study: {name}
data: {data}
subset: {subset}
validation: 0.2
objective: val_accuracy
trials: {trials}
workers: 2
seed: {seed}
sampler: {sampler}
model:
  hidden: "128,64"
training:
  optimizer: sgd
  batch: 32
  iterations: {iterations}
  eval_every: {eval_every}
  decay_every: 100
  decay_factor: 0.95
{training}search:
{search}{stopping}"""

SCHEDULES = "  schedule: {type: grid, values: [constant, step]}\n"

ARMS = {  # part D: the arm's `stopping:` section
    "none": "",
    "lcm-objective": "stopping:\n  rule: lcm\n  accumulate: 5\n  percentile: 50\n",
    "lcm-val_loss": "stopping:\n  rule: lcm\n  accumulate: 5\n  percentile: 50\n"
                    "  curve: val_loss\n",
    "lcm-train_loss": "stopping:\n  rule: lcm\n  accumulate: 5\n  percentile: 50\n"
                      "  curve: train_loss\n",
}


def krill(*args, capture=False):
    r = subprocess.run([KRILL, *args], check=True, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    return r.stdout


def write_study(a, name, seed, trials, sampler, search, training="", stopping=""):
    folder = os.path.join(a.out, "studies")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".yaml")
    with open(path, "w") as f:
        f.write(STUDY.format(name=name, data=a.data, subset=a.subset, trials=trials, seed=seed,
                             sampler=sampler, iterations=a.iterations, eval_every=EVAL_EVERY,
                             training=training, search=search, stopping=stopping))
    db = os.path.join(folder, name + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return path, db


def export(db):
    return json.loads(krill("export", db, "--format", "json", capture=True))


def curves(db):
    """{trial number: {series: {step: value}}} from krill export --curves."""
    out = {}
    for row in csv.DictReader(io.StringIO(krill("export", db, "--curves", capture=True))):
        out.setdefault(int(row["number"]), {}).setdefault(row["series"], {})[
            int(row["step"])] = float(row["value"])
    return out


def best_of(d):
    done = [t for t in d["trials"] if t["state"] == "completed"]
    return max(done, key=lambda t: (t["value"], -t["number"])) if done else None


def iterations_of(d):
    return sum(int(t["attrs"].get("iterations", 0)) for t in d["trials"])


# --- part A: static vs step decay at the poster's rate --------------------------------------

def part_a(a, seed):
    name = f"schedules-s{seed}"
    path, db = write_study(a, name, seed, 2, "grid", SCHEDULES,
                           training=f"  lr: {POSTER_LR}\n")
    t0 = time.perf_counter()
    krill("tune", path, "--quiet")
    wall = time.perf_counter() - t0
    d, c = export(db), curves(db)
    row = dict(part="A", name=name, db=db, seed=seed, wall_s=wall, by_schedule={})
    for t in d["trials"]:
        s = t["params"]["schedule"]
        row["by_schedule"][s] = dict(
            final_val=t["value"], state=t["state"],
            val_accuracy={str(k): v for k, v in sorted(c[t["number"]]["val_accuracy"].items())},
            lr={str(k): v for k, v in sorted(c[t["number"]]["lr"].items())})
    return row


# --- part C: the initial-rate sweep ---------------------------------------------------------

def key(schedule, lr):  # "step@0.01"; lr as a float (the export writes 1.0 as 1)
    return f"{schedule}@{float(lr)!r}"


def part_c(a, seed):
    name = f"sweep-s{seed}"
    lrs = ", ".join(repr(x) for x in SWEEP_LRS)
    path, db = write_study(a, name, seed, 2 * len(SWEEP_LRS), "grid",
                           f"  lr: {{type: grid, values: [{lrs}]}}\n" + SCHEDULES)
    t0 = time.perf_counter()
    krill("tune", path, "--quiet")
    wall = time.perf_counter() - t0
    d = export(db)
    finals = {}
    for t in d["trials"]:
        k = key(t["params"]["schedule"], t["params"]["lr"])
        finals[k] = t["value"] if t["state"] == "completed" else None  # diverged: None
    return dict(part="C", name=name, db=db, seed=seed, wall_s=wall, finals=finals,
                states={key(t["params"]["schedule"], t["params"]["lr"]): t["state"]
                        for t in d["trials"]})


# --- part D: LCM vs no stopping at the same compute ---------------------------------------

D_SEARCH = ("  lr: {type: float, low: 1.0e-4, high: 0.3, log: true}\n"
            "  momentum: {type: float, low: 0.0, high: 0.95}\n")


def part_d(a, seed, arm):
    name = f"budget-{arm}-s{seed}"
    budget = a.trials * a.iterations
    path, db = write_study(a, name, seed, a.trials, "random", D_SEARCH,
                           training="  schedule: step\n", stopping=ARMS[arm])
    trials, rounds = a.trials, 0
    t0 = time.perf_counter()
    while True:
        krill("tune", path, "--quiet", "--trials", str(trials))
        rounds += 1
        d = export(db)
        used = iterations_of(d)
        if used >= budget or arm == "none":
            break
        trials += math.ceil((budget - used) / a.iterations)  # each new trial uses at most that
    wall = time.perf_counter() - t0
    best = best_of(d)
    states = [t["state"] for t in d["trials"]]
    return dict(part="D", name=name, db=db, seed=seed, arm=arm, wall_s=wall, budget=budget,
                iterations=used, trials=len(d["trials"]), rounds=rounds,
                stopped=states.count("stopped"), completed=states.count("completed"),
                diverged=states.count("diverged"), failed=states.count("failed"),
                best_val=best["value"], best_test=best["attrs"].get("test_accuracy"),
                best_number=best["number"], best_params=best["params"])


# --- tables -------------------------------------------------------------------------------

def ms(xs, scale=100, digits=2):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    m = statistics.mean(xs) * scale
    sd = statistics.stdev(xs) * scale if len(xs) > 1 else 0.0
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


def summary(rows, a):
    L = []
    A = [r for r in rows if r["part"] == "A"]
    if A:
        L.append(f"\n### Graphs A and B: static vs step decay at lr {POSTER_LR} "
                 f"({len(A)} seeds)\n")
        steps = sorted({int(s) for r in A for s in r["by_schedule"]["constant"]["val_accuracy"]})
        shown = [s for s in steps if s in (50, 100, 200, 300, 500, 750) or s == steps[-1]]
        L.append("Learning rate at iteration (the same in every seed):\n")
        L.append("| schedule | " + " | ".join(str(s) for s in shown) + " |")
        L.append("|---|" + "---|" * len(shown))
        for sch in ("constant", "step"):
            lr = A[0]["by_schedule"][sch]["lr"]
            L.append(f"| {sch} | " + " | ".join(f"{lr[str(s)]:.6f}" for s in shown) + " |")
        L.append("\nValidation accuracy at iteration, mean ± sd over seeds (%):\n")
        L.append("| schedule | " + " | ".join(str(s) for s in shown) + " |")
        L.append("|---|" + "---|" * len(shown))
        for sch in ("constant", "step"):
            cells = [ms([r["by_schedule"][sch]["val_accuracy"].get(str(s)) for r in A])
                     for s in shown]
            L.append(f"| {sch} | " + " | ".join(cells) + " |")
        diffs = [r["by_schedule"]["step"]["final_val"] - r["by_schedule"]["constant"]["final_val"]
                 for r in A]
        wins = sum(x > 0 for x in diffs)
        L.append(f"\nFinal validation accuracy, step decay minus static: {ms(diffs)} points; "
                 f"decay higher in {wins} of {len(diffs)} seeds.\n")
    C = [r for r in rows if r["part"] == "C"]
    if C:
        L.append(f"\n### Graph C: final validation accuracy against the initial rate "
                 f"({len(C)} seeds, mean ± sd, %)\n")
        L.append("| initial lr | static | step decay | decay − static |")
        L.append("|---|---|---|---|")
        for lr in SWEEP_LRS:
            st = [r["finals"].get(key("constant", lr)) for r in C]
            dc = [r["finals"].get(key("step", lr)) for r in C]
            df = [y - x for x, y in zip(st, dc) if x is not None and y is not None]
            note = ""
            n_div = sum(v is None for v in st + dc)
            if n_div:
                note = f" ({n_div} diverged)"
            L.append(f"| {lr:g} | {ms(st)} | {ms(dc)} | {ms(df)}{note} |")
        L.append("")
        for sch in ("constant", "step"):
            best = []
            for r in C:
                vals = {lr: r["finals"].get(key(sch, lr)) for lr in SWEEP_LRS}
                vals = {k: v for k, v in vals.items() if v is not None}
                best.append(max(vals, key=vals.get))
            counts = {lr: best.count(lr) for lr in SWEEP_LRS if best.count(lr)}
            mean_best = max(SWEEP_LRS, key=lambda lr: statistics.mean(
                [r["finals"].get(key(sch, lr)) or 0.0 for r in C]))
            L.append(f"- {'static' if sch == 'constant' else 'step decay'}: best initial rate by "
                     f"mean accuracy {mean_best:g}; per seed: " +
                     ", ".join(f"{lr:g} ({n}x)" for lr, n in counts.items()))
        L.append("")
    D = [r for r in rows if r["part"] == "D"]
    if D:
        L.append(f"\n### LCM against random search at the same compute "
                 f"({a.trials} trials x {a.iterations} iterations = "
                 f"{a.trials * a.iterations} iterations per study)\n")
        L.append("| arm | seeds | best test acc, mean ± sd (%) | best val acc, mean ± sd (%) | "
                 "trials run, mean | stopped, mean | iterations used, mean | wall s, mean |")
        L.append("|---|---|---|---|---|---|---|---|")
        by_arm = {}
        for r in D:
            by_arm.setdefault(r["arm"], []).append(r)
        for arm, rs in by_arm.items():
            L.append(f"| {arm} | {len(rs)} | {ms([r['best_test'] for r in rs])} | "
                     f"{ms([r['best_val'] for r in rs])} | "
                     f"{statistics.mean(r['trials'] for r in rs):.1f} | "
                     f"{statistics.mean(r['stopped'] for r in rs):.1f} | "
                     f"{statistics.mean(r['iterations'] for r in rs):.0f} | "
                     f"{statistics.mean(r['wall_s'] for r in rs):.1f} |")
        base = {r["seed"]: r for r in by_arm.get("none", [])}
        if base:
            L.append("\nPer seed, against no stopping (best validation accuracy, points; + = the "
                     "stopping arm found a better trial):\n")
            L.append("| arm | " + " | ".join(f"seed {s}" for s in sorted(base)) +
                     " | better / same / worse |")
            L.append("|---|" + "---|" * (len(base) + 1))
            for arm, rs in by_arm.items():
                if arm == "none":
                    continue
                d = {r["seed"]: 100 * (r["best_val"] - base[r["seed"]]["best_val"])
                     for r in rs if r["seed"] in base}
                b = sum(x > 1e-9 for x in d.values())
                w = sum(x < -1e-9 for x in d.values())
                L.append(f"| {arm} | " + " | ".join(f"{d[s]:+.2f}" if s in d else "-"
                                                     for s in sorted(base)) +
                         f" | {b} / {len(d) - b - w} / {w} |")
        L.append("")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=20, help="part D: trials of the no-stopping arm")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--subset", type=int, default=10000)
    ap.add_argument("--mnist", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--parts", default="A,C,D")
    a = ap.parse_args()
    if not os.path.exists(KRILL):
        sys.exit(f"{KRILL} is missing: run scripts/build.sh first")
    if not os.path.isdir(a.mnist):
        sys.exit(f"no MNIST at {a.mnist}: pass --mnist DIR (a folder of the four IDX files)")
    a.data = os.path.abspath(a.mnist)
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    parts = set(a.parts.split(","))
    rows, kept_wall = [], 0.0
    old = os.path.join(a.out, "results.json")
    if os.path.exists(old):  # the rows of the parts not run now
        with open(old) as f:
            previous = json.load(f)
        rows = [r for r in previous["rows"] if r["part"] not in parts]
        kept_wall = previous["settings"].get("total_wall_s", 0.0) if rows else 0.0
    t0 = time.perf_counter()
    for seed in range(1, a.seeds + 1):
        if "A" in parts:
            rows.append(part_a(a, seed))
        if "C" in parts:
            rows.append(part_c(a, seed))
        if "D" in parts:
            for arm in ARMS:
                rows.append(part_d(a, seed, arm))
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(dict(settings=dict(seeds=a.seeds, trials=a.trials, iterations=a.iterations,
                                     subset=a.subset, mnist=a.mnist, poster_lr=POSTER_LR,
                                     sweep_lrs=SWEEP_LRS, eval_every=EVAL_EVERY,
                                     total_wall_s=kept_wall + time.perf_counter() - t0),
                       rows=rows), f, indent=1)
    rows.sort(key=lambda r: ("ACD".index(r["part"]), r["seed"]))
    text = summary(rows, a)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(text)
    # Figures of seed 1, with krill report's plotting: trials told apart by schedule.
    figures = os.path.join(a.out, "figures")
    for r in rows:
        if r["seed"] != 1:
            continue
        if r["part"] in ("A", "C"):
            folder = "schedules" if r["part"] == "A" else "sweep"
            krill("report", r["db"], "--png", os.path.join(figures, folder), "--by", "schedule")
        else:
            krill("report", r["db"], "--png", os.path.join(figures, "budget-" + r["arm"]))
    print(text)


if __name__ == "__main__":
    main()
