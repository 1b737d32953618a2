#!/usr/bin/env python3
"""The poster's learning-rate experiments on MNIST with krill: a static against a decaying
learning rate (5% less every 100 iterations), the final accuracy against the initial rate, and
Learning Curve Matching against random search at the same compute budget, and Population Based
Training of the learning rate against the best static and step-decay rates at the same compute.

Usage: experiments/learning-rate/run.py [--seeds 5] [--mnist DIR] [--out DIR] [--parts A,C,D,P]
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
  P  PBT: a population of --population members (lr log 1e-4..1, the sweep's range; `pbt:`
     interval --interval, lr evolving, krill's other defaults) against random search over the
     same range with --population trials of a static rate and of step decay (the same compute:
     members x iterations = trials x iterations; the same sampler seed, so the population starts
     from the same rates, initialisations and data orders as the two random arms). Reports the
     best value and the best trial's test accuracy, and the learning-rate schedule behind the
     best member's final weights (its lineage: the steps it trained itself and, before each of
     its exploits, the donor's, recursively), besides krill's per-member schedule. A control
     arm, pbt-r0, is the same population with `resample: 0` (explore only multiplies by 0.8 or
     1.2): whether the schedules still fall without rates drawn afresh from the range.
--parts C (say) reruns part C only and keeps the other parts' rows of an existing results.json.
Writes into --out: results.json (one row per study, plus the per-seed curves of part A),
summary.md (the tables) and figures/ (krill report --png --by of seed 1: figures/schedules,
figures/sweep, figures/budget-<arm>, figures/pbt; and figures/pbt-lineage-lr.svg, the lineage
schedules of every seed, drawn by this script). Studies (files and databases) go to --out/studies.
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
workers: {workers}
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


def write_study(a, name, seed, trials, sampler, search, training="", stopping="", workers=2):
    folder = os.path.join(a.out, "studies")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".yaml")
    with open(path, "w") as f:
        f.write(STUDY.format(name=name, data=a.data, subset=a.subset, trials=trials, seed=seed,
                             sampler=sampler, iterations=a.iterations, eval_every=EVAL_EVERY,
                             training=training, search=search, stopping=stopping,
                             workers=workers))
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


# --- part P: PBT of the learning rate against the best static and step-decay rates ----------

P_SEARCH = "  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}\n"  # the sweep's range
P_ARMS = ("pbt", "static", "step", "pbt-r0")  # pbt-r0: the control, resample 0


def lineage(trials, number):
    """The schedule behind member `number`'s final weights: {step: (lr, member)} for every curve
    point, following each exploit back to its donor (an exploit at step s copies the donor's state
    at s: the steps up to s were the donor's)."""
    lr = {t["number"]: {int(k): v for k, v in t["metrics"]["lr"]} for t in trials}
    exploits = {t["number"]: {int(e["step"]): e for e in (t.get("exploits") or [])}
                for t in trials}
    out, c = {}, number
    for step in sorted(lr[number], reverse=True):
        seen = set()
        while step in exploits[c] and c not in seen:  # a donor does not exploit at that step
            seen.add(c)
            e = exploits[c][step]
            assert int(e["donor_step"]) == step, e
            c = int(e["donor"])
        out[step] = (lr[c][step], c)
    return dict(sorted(out.items()))


def segments(schedule):
    """[[from, to, lr, member], ...]: runs of curve points with the same rate and member."""
    segs, prev = [], 0
    for step, (lr, m) in schedule.items():
        if segs and segs[-1][2] == lr and segs[-1][3] == m:
            segs[-1][1] = step
        else:
            segs.append([prev, step, lr, m])
        prev = step
    return segs


def part_p(a, seed, arm):
    name = f"pbt-{arm}-s{seed}"
    n = a.population
    if arm.startswith("pbt"):
        pbt = f"pbt:\n  population: {n}\n  interval: {a.interval}\n"
        if arm == "pbt-r0":
            pbt += "  resample: 0\n"
        path, db = write_study(a, name, seed, n, "random", P_SEARCH, stopping=pbt, workers=n)
    else:
        training = "  schedule: step\n" if arm == "step" else "  schedule: constant\n"
        path, db = write_study(a, name, seed, n, "random", P_SEARCH, training=training)
    t0 = time.perf_counter()
    krill("tune", path, "--quiet")
    wall = time.perf_counter() - t0
    d = export(db)
    best = best_of(d)
    tested = [t for t in d["trials"] if "test_accuracy" in t["attrs"]]
    if tested and tested[0]["number"] != best["number"]:  # krill's best, not ours: say so
        print(f"{name}: krill tested trial {tested[0]['number']}, best_of says "
              f"{best['number']}", file=sys.stderr)
        best = tested[0]
    states = [t["state"] for t in d["trials"]]
    row = dict(part="P", name=name, db=db, seed=seed, arm=arm, wall_s=wall,
               trials=len(d["trials"]), iterations=iterations_of(d),
               completed=states.count("completed"), diverged=states.count("diverged"),
               failed=states.count("failed"), best_val=best["value"],
               best_test=best["attrs"].get("test_accuracy"), best_number=best["number"],
               best_params=best["params"],
               initial_lrs={str(t["number"]): t["params"]["lr"] for t in d["trials"]},
               finals={str(t["number"]): t["value"] for t in d["trials"]})
    if arm.startswith("pbt"):
        ex = {t["number"]: t.get("exploits") or [] for t in d["trials"]}
        sched = lineage(d["trials"], best["number"])
        row.update(
            exploits=sum(len(e) for e in ex.values()),
            replaced=sum(1 for e in ex.values() if e),
            best_exploits=ex[best["number"]],
            # krill show's schedule: the best member's own rate at each curve point
            member_lr={str(k): v for k, v in best["metrics"]["lr"]},
            lineage_lr={str(k): lr for k, (lr, m) in sched.items()},
            lineage_member={str(k): m for k, (lr, m) in sched.items()},
            lineage_segments=segments(sched),
            curves={str(t["number"]): {str(k): v for k, v in t["curve"]} for t in d["trials"]},
            first_exploit={str(t["number"]): min((int(e["step"]) for e in ex[t["number"]]),
                                                 default=None) for t in d["trials"]})
    else:
        row["curves"] = {str(t["number"]): {str(k): v for k, v in t["curve"]}
                         for t in d["trials"]}
    return row


def pbt_check(rows):
    """Per seed: whether each PBT member's curve up to its first exploit (all of it without one)
    equals the static arm's trial of the same number (same rate, initialisation and data order).
    Returns (members checked, members equal)."""
    static = {r["seed"]: r for r in rows if r["part"] == "P" and r["arm"] == "static"}
    checked = equal = 0
    for r in rows:
        if r["part"] != "P" or not r["arm"].startswith("pbt") or r["seed"] not in static:
            continue
        s = static[r["seed"]]
        for num, curve in r["curves"].items():
            if s["initial_lrs"].get(num) != r["initial_lrs"][num]:
                continue
            first = r["first_exploit"][num]
            steps = [k for k in curve if first is None or int(k) <= first]
            checked += 1
            equal += all(s["curves"][num].get(k) == curve[k] for k in steps)
    return checked, equal


def svg_lineage(rows, path):
    """The lineage schedules of every seed's best PBT member (log rate against step), one line per
    seed, plus the best static rate of each seed as a dotted line."""
    P = sorted((r for r in rows if r["part"] == "P" and r["arm"] == "pbt"),
               key=lambda r: r["seed"])
    static = {r["seed"]: r for r in rows if r["part"] == "P" and r["arm"] == "static"}
    if not P:
        return
    W, H, L, R, T, B = 760, 420, 70, 150, 40, 50
    last = max(int(k) for r in P for k in r["lineage_lr"])
    lo, hi = math.log10(1e-4), math.log10(1.0)
    X = lambda s: L + (W - L - R) * s / last
    Y = lambda v: T + (H - T - B) * (hi - math.log10(v)) / (hi - lo)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf"]
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{(W - R + L) / 2}" y="22" text-anchor="middle" font-size="14">'
         f'PBT: the learning rate behind the best member\'s final weights (lineage)</text>',
         f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" '
         f'stroke="#888"/>']
    for e in range(-4, 1):
        y = Y(10 ** e)
        o.append(f'<line x1="{L}" x2="{W - R}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{y + 4}" text-anchor="end">{10 ** e:g}</text>')
    for sx in range(0, last + 1, max(1, last // 4)):
        o.append(f'<line x1="{X(sx)}" x2="{X(sx)}" y1="{T}" y2="{H - B}" stroke="#eee"/>')
        o.append(f'<text x="{X(sx)}" y="{H - B + 16}" text-anchor="middle">{sx}</text>')
    o.append(f'<text x="{(W - R + L) / 2}" y="{H - 12}" text-anchor="middle">step</text>')
    o.append(f'<text x="16" y="{(H - B + T) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(H - B + T) / 2})">learning rate (log)</text>')
    for i, r in enumerate(P):
        c = colors[i % len(colors)]
        pts = []
        for a, b, lr, m in r["lineage_segments"]:
            pts += [f"{X(a):.1f},{Y(lr):.1f}", f"{X(b):.1f},{Y(lr):.1f}"]
        o.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{c}" '
                 f'stroke-width="2"><title>seed {r["seed"]}</title></polyline>')
        if r["seed"] in static:
            v = static[r["seed"]]["best_params"]["lr"]
            o.append(f'<line x1="{L}" x2="{W - R}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="{c}" '
                     f'stroke-dasharray="2 3" stroke-width="1"/>')
        y = T + 10 + 18 * i
        o.append(f'<line x1="{W - R + 12}" x2="{W - R + 36}" y1="{y}" y2="{y}" stroke="{c}" '
                 f'stroke-width="2"/><text x="{W - R + 42}" y="{y + 4}">seed {r["seed"]}</text>')
    y = T + 10 + 18 * len(P)
    o.append(f'<line x1="{W - R + 12}" x2="{W - R + 36}" y1="{y}" y2="{y}" stroke="#333" '
             f'stroke-dasharray="2 3"/><text x="{W - R + 42}" y="{y + 4}">best static</text>')
    o.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def gmean(xs):
    return math.exp(statistics.mean(math.log(x) for x in xs))


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
    P = [r for r in rows if r["part"] == "P"]
    if P:
        L += summary_p(P, a)
    return "\n".join(L) + "\n"


def summary_p(P, a):
    L = []
    by = {arm: {r["seed"]: r for r in P if r["arm"] == arm} for arm in P_ARMS}
    seeds = sorted(by["pbt"])
    n = P[0]["trials"]
    its = a.iterations
    L.append(f"\n### PBT of the learning rate against the best static and step-decay rates "
             f"({len(seeds)} seeds; {n} members or trials x {its} iterations = {n * its} "
             f"iterations per study; lr log 1e-4..1)\n")
    L.append("| arm | seeds | best val acc, mean ± sd (%) | best trial's test acc, mean ± sd (%) "
             "| diverged, total | exploits, mean | wall s, mean |")
    L.append("|---|---|---|---|---|---|---|")
    names = {"pbt": f"PBT ({n} members, interval {a.interval})",
             "static": f"random search, static ({n} trials)",
             "step": f"random search, step decay ({n} trials)",
             "pbt-r0": "PBT, control: resample 0 (explore only x0.8 / x1.2)"}
    for arm in P_ARMS:
        rs = list(by[arm].values())
        if not rs:
            continue
        exp = (f"{statistics.mean(r['exploits'] for r in rs):.1f}" if arm.startswith("pbt")
               else "-")
        L.append(f"| {names[arm]} | {len(rs)} | {ms([r['best_val'] for r in rs])} | "
                 f"{ms([r['best_test'] for r in rs])} | {sum(r['diverged'] for r in rs)} | "
                 f"{exp} | {statistics.mean(r['wall_s'] for r in rs):.1f} |")
    L.append("\nPer seed (%; lr: the best trial's rate; PBT: its best member):\n")
    L.append("| seed | static lr | static val / test | step lr | step val / test | PBT val / test "
             "| PBT − static, val / test | PBT − step, val / test |")
    L.append("|---|---|---|---|---|---|---|---|")
    wins = {k: [0, 0, 0] for k in ("sv", "st", "dv", "dt")}

    def tally(k, x):
        wins[k][0 if x > 1e-9 else 2 if x < -1e-9 else 1] += 1

    for sd in seeds:
        p, s, d = by["pbt"][sd], by["static"].get(sd), by["step"].get(sd)
        if not (s and d):
            continue
        f = lambda r: f"{100 * r['best_val']:.2f} / {100 * r['best_test']:.2f}"
        dv = lambda r: (100 * (p["best_val"] - r["best_val"]),
                        100 * (p["best_test"] - r["best_test"]))
        (sv, st), (ddv, ddt) = dv(s), dv(d)
        tally("sv", sv), tally("st", st), tally("dv", ddv), tally("dt", ddt)
        L.append(f"| {sd} | {s['best_params']['lr']:.4g} | {f(s)} | {d['best_params']['lr']:.4g} "
                 f"| {f(d)} | {f(p)} | {sv:+.2f} / {st:+.2f} | {ddv:+.2f} / {ddt:+.2f} |")
    for other in ("static", "step"):
        pairs = [(by["pbt"][sd], by[other][sd]) for sd in seeds if sd in by[other]]
        L.append(f"\nPBT minus {other}, mean ± sd over seeds (points): validation "
                 f"{ms([p['best_val'] - o['best_val'] for p, o in pairs])}, test "
                 f"{ms([p['best_test'] - o['best_test'] for p, o in pairs])}; the gap "
                 f"validation − test: PBT {ms([p['best_val'] - p['best_test'] for p, o in pairs])}"
                 f", {other} {ms([o['best_val'] - o['best_test'] for p, o in pairs])}.")
    w = lambda k: "/".join(str(x) for x in wins[k])
    L.append(f"\nPBT better / same / worse: against static {w('sv')} (val), {w('st')} (test); "
             f"against step decay {w('dv')} (val), {w('dt')} (test).\n")
    # the schedules
    q = [its * i // 4 for i in (1, 2, 3, 4)]
    L.append("The schedules the population discovered: the rate behind the best member's final "
             "weights (its lineage: the member's own steps and, before each exploit, the "
             "donor's), at 25/50/75/100% of training; in brackets krill show's schedule of that "
             "member (its own rate, which before its last exploit trained other weights):\n")
    L.append("| seed | best member | lineage (steps: member, lr) | " +
             " | ".join(f"lr at {s}" for s in q) + " | last / first |")
    L.append("|---|---|---|" + "---|" * (len(q) + 1))
    cols = {s: [] for s in q}
    decays = 0
    for sd in seeds:
        p = by["pbt"][sd]
        lin = "; ".join(f"{a_}-{b}: {m}, {lr:.3g}" for a_, b, lr, m in p["lineage_segments"])
        cells = []
        for s in q:
            v, mv = p["lineage_lr"][str(s)], p["member_lr"][str(s)]
            cols[s].append(v)
            cells.append(f"{v:.3g}" + (f" ({mv:.3g})" if mv != v else ""))
        ratio = p["lineage_lr"][str(q[-1])] / p["lineage_lr"][str(q[0])]
        decays += ratio < 1
        L.append(f"| {sd} | {p['best_number']} | {lin} | " + " | ".join(cells) +
                 f" | {ratio:.2f} |")
    g = [gmean(cols[s]) for s in q]
    L.append("| geometric mean | | | " + " | ".join(f"{v:.3g}" for v in g) +
             f" | {g[-1] / g[0]:.2f} |")
    r0 = [by["pbt-r0"][sd] for sd in seeds if sd in by["pbt-r0"]]
    if r0:
        g0 = [gmean([r["lineage_lr"][str(s)] for r in r0]) for s in q]
        fell = sum(r["lineage_lr"][str(q[-1])] < r["lineage_lr"][str(q[0])] for r in r0)
        L.append("| control, resample 0: geometric mean | | | " +
                 " | ".join(f"{v:.3g}" for v in g0) + f" | {g0[-1] / g0[0]:.2f} |")
        L.append(f"\nControl (resample 0): the lineage rate fell from 25% to 100% in {fell} of "
                 f"{len(r0)} seeds; last / first per seed: " +
                 ", ".join(f"{r['lineage_lr'][str(q[-1])] / r['lineage_lr'][str(q[0])]:.2f}"
                           for r in r0) + ".")
    st = [by["static"][sd]["best_params"]["lr"] for sd in seeds if sd in by["static"]]
    dc = [by["step"][sd]["best_params"]["lr"] for sd in seeds if sd in by["step"]]
    L.append(f"\nThe lineage rate fell from 25% to 100% of training in {decays} of {len(seeds)} "
             f"seeds. For comparison, the best static rate: geometric mean {gmean(st):.3g} "
             f"(range {min(st):.3g}-{max(st):.3g}); the best step-decay initial rate "
             f"{gmean(dc):.3g} (range {min(dc):.3g}-{max(dc):.3g}), which decays to "
             f"{0.95 ** (its // 100 - 1):.3f} of itself at iteration {its}.\n")
    checked, equal = pbt_check(P)
    L.append(f"Check: {equal} of {checked} members' curves up to their first exploit (all of it "
             f"without one) equal the static arm's trial of the same number.\n")
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=20, help="part D: trials of the no-stopping arm")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--subset", type=int, default=10000)
    ap.add_argument("--mnist", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--parts", default="A,C,D",
                    help="any of A, C, D, P (P, the PBT comparison, is not run by default)")
    ap.add_argument("--population", type=int, default=8, help="part P: members, and trials of "
                    "the random arms")
    ap.add_argument("--interval", type=int, default=200, help="part P: steps between "
                    "generations (a multiple of 50)")
    a = ap.parse_args()
    if not os.path.exists(KRILL):
        sys.exit(f"{KRILL} is missing: run scripts/build.sh first")
    if not os.path.isdir(a.mnist):
        sys.exit(f"no MNIST at {a.mnist}: pass --mnist DIR (a folder of the four IDX files)")
    a.data = os.path.abspath(a.mnist)
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    parts = set(a.parts.split(","))
    rows, kept_wall, settings = [], 0.0, {}
    old = os.path.join(a.out, "results.json")
    if os.path.exists(old):  # the rows of the parts not run now
        with open(old) as f:
            previous = json.load(f)
        rows = [r for r in previous["rows"] if r["part"] not in parts]
        kept_wall = previous["settings"].get("total_wall_s", 0.0) if rows else 0.0
        settings = previous["settings"] if rows else {}
    t0 = time.perf_counter()
    for seed in range(1, a.seeds + 1):
        if "A" in parts:
            rows.append(part_a(a, seed))
        if "C" in parts:
            rows.append(part_c(a, seed))
        if "D" in parts:
            for arm in ARMS:
                rows.append(part_d(a, seed, arm))
        if "P" in parts:
            for arm in P_ARMS:
                rows.append(part_p(a, seed, arm))
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        # The top-level settings are those of the first run that wrote the file (kept when a
        # later --parts run keeps its rows); by_part says how each part was last run.
        if not settings:
            settings = dict(seeds=a.seeds, trials=a.trials, iterations=a.iterations,
                            subset=a.subset, mnist=a.mnist, poster_lr=POSTER_LR,
                            sweep_lrs=SWEEP_LRS, eval_every=EVAL_EVERY)
        by_part = settings.setdefault("by_part", {})
        for part in parts:
            by_part[part] = dict(seeds=a.seeds, iterations=a.iterations, subset=a.subset,
                                 mnist=a.mnist, wall_s=time.perf_counter() - t0)
            if part == "D":
                by_part[part]["trials"] = a.trials
            if part == "P":
                by_part[part].update(population=a.population, interval=a.interval)
        settings["total_wall_s"] = kept_wall + time.perf_counter() - t0
        json.dump(dict(settings=settings, rows=rows), f, indent=1)
    rows.sort(key=lambda r: ("ACDP".index(r["part"]), r["seed"]))
    text = summary(rows, a)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(text)
    # Figures of seed 1, with krill report's plotting: trials told apart by schedule.
    figures = os.path.join(a.out, "figures")
    for r in rows:  # the parts run now (a kept part's databases may be gone)
        if r["seed"] != 1 or r["part"] not in parts:
            continue
        if r["part"] in ("A", "C"):
            folder = "schedules" if r["part"] == "A" else "sweep"
            krill("report", r["db"], "--png", os.path.join(figures, folder), "--by", "schedule")
        elif r["part"] == "D":
            krill("report", r["db"], "--png", os.path.join(figures, "budget-" + r["arm"]))
        elif r["arm"] == "pbt":
            krill("report", r["db"], "--png", os.path.join(figures, "pbt"))
    if "P" in parts:
        svg_lineage(rows, os.path.join(figures, "pbt-lineage-lr.svg"))
    print(text)


if __name__ == "__main__":
    main()
