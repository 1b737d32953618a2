#!/usr/bin/env python3
"""The early-stopping experiment of issue 5: random search with no stopping vs Learning Curve
Matching (LCM) vs the median rule vs ASHA, the same sampler seed and trial count per arm, on MNIST
and Fashion-MNIST, for two MLP shapes and a CNN (issue 12: the "cnn" shape, LeNet-like with 16
and 32 filters), repeated over seeds; plus LCM's sensitivity to N (accumulate) and the percentile.

Usage: experiments/early-stopping/run.py [--seeds 10] [--mnist DIR] [--out DIR]
                                         [--shapes 128,512x256,cnn] [--datasets mnist,fashion-mnist]
  With --shapes or --datasets naming fewer than all, the rows of the others already in
  results.json are kept (a CNN arm can be run on its own and added).
  (build krill first: scripts/build.sh). MNIST is read from --mnist, default ../shared/data/mnist
  (skipped with a note when absent); Fashion-MNIST from Debian's dataset-fashion-mnist.
Writes results.json (one row per study) and summary.md (the tables) into --out, and SVG figures
of one seed per arm with `krill report --png` (learning curves show where trials were stopped).
The study file of each arm is the STUDY template below with that arm's `stopping:` section;
none.yaml, lcm.yaml, median.yaml and asha.yaml beside this script are the files of seed 1 on
Fashion-MNIST with hidden 128.
"""
import argparse, json, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KRILL = os.environ.get("KRILL", os.path.join(ROOT, "build", "apps", "krill", "krill"))

ARMS = {
    "none": "",
    "lcm": "stopping:\n  rule: lcm\n  accumulate: {N}\n  percentile: {P}\n",
    "median": "stopping:\n  rule: median\n  min_trials: 5\n",
    "asha": "stopping:\n  rule: asha\n  min_resource: 50\n  eta: 3\n",
}

STUDY = """study: {name}
data: {data}
subset: 10000
validation: 0.2
objective: val_accuracy
trials: {trials}
workers: 2
seed: {seed}
sampler: random
model:
  {model}
training:
  optimizer: sgd
  batch: 64
  epochs: 2
  eval_every: 25
search:
  lr: {{type: float, low: 1.0e-3, high: 0.5, log: true}}
  momentum: {{type: float, low: 0.0, high: 0.95}}
{stopping}"""


# The CNN arm's network: LeNet-like, half the filters of torch_train.py --model cnn (a study of
# 20 trials x 4 arms x seeds must fit a 2-core machine).
CNN = "conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10"


def model_line(shape):
    return f'layers: "{CNN}"' if shape == "cnn" else f'hidden: "{shape}"'


def run_study(out, data_name, data, shape, arm, seed, trials, N=5, P=50, tag=""):
    name = f"{data_name}-{shape.replace(',', 'x')}-{arm}{tag}-s{seed}"
    folder = os.path.join(out, "studies")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".yaml")
    with open(path, "w") as f:
        f.write(STUDY.format(name=name, data=data, trials=trials, seed=seed,
                             model=model_line(shape), stopping=ARMS[arm].format(N=N, P=P)))
    db = os.path.join(folder, name + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    t0 = time.perf_counter()
    subprocess.run([KRILL, "tune", path, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    d = json.loads(subprocess.run([KRILL, "export", db, "--format", "json"], check=True,
                                  capture_output=True, text=True).stdout)
    done = [t for t in d["trials"] if t["state"] == "completed"]
    best = max(done, key=lambda t: t["value"])
    return dict(name=name, db=db, data=data_name, shape=shape, arm=arm, seed=seed, N=N, P=P,
                tag=tag, wall_s=wall, best_val=best["value"],
                best_test=best["attrs"].get("test_accuracy"),
                iterations=sum(int(t["attrs"].get("iterations", 0)) for t in d["trials"]),
                stopped=sum(t["state"] == "stopped" for t in d["trials"]),
                trials=len(d["trials"]))


def mean_sd(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def summary(rows):
    lines = []
    groups = {}
    for r in rows:
        groups.setdefault((r["data"], r["shape"], r["tag"]), {}).setdefault(r["arm"], []).append(r)
    for (data, shape, tag), arms in groups.items():
        net = f"CNN {CNN}" if shape == "cnn" else f"hidden {shape}"
        lines.append(f"\n### {data}, {net}{' ' + tag if tag else ''}\n")
        base = arms.get("none")
        base_iters = statistics.mean(r["iterations"] for r in base) if base else None
        lines.append("| arm | seeds | best test acc, mean ± sd (%) | best val acc, mean ± sd (%) | "
                     "iterations, mean | vs no stopping | trials stopped, mean | wall s, mean |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for arm, rs in arms.items():
            t_m, t_sd = mean_sd([100 * r["best_test"] for r in rs])
            v_m, v_sd = mean_sd([100 * r["best_val"] for r in rs])
            it = statistics.mean(r["iterations"] for r in rs)
            rel = f"{100 * it / base_iters:.0f}%" if base_iters else "-"
            label = arm if arm != "lcm" else f"lcm (N={rs[0]['N']}, P={rs[0]['P']})"
            lines.append(f"| {label} | "
                         f"{len(rs)} | {t_m:.2f} ± {t_sd:.2f} | {v_m:.2f} ± {v_sd:.2f} | {it:.0f} | "
                         f"{rel} | {statistics.mean(r['stopped'] for r in rs):.1f} | "
                         f"{statistics.mean(r['wall_s'] for r in rs):.1f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--mnist", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--no-sensitivity", action="store_true")
    ap.add_argument("--shapes", default="128,512x256,cnn",
                    help="MLP hidden widths (512x256) or cnn, comma-separated")
    ap.add_argument("--datasets", default="mnist,fashion-mnist")
    a = ap.parse_args()
    shapes = [s.replace("x", ",") for s in a.shapes.split(",")]
    wanted = a.datasets.split(",")
    if not os.path.exists(KRILL):
        sys.exit(f"{KRILL} is missing: run scripts/build.sh first")
    datasets = [("fashion-mnist", "fashion-mnist")] if "fashion-mnist" in wanted else []
    if "mnist" in wanted and os.path.isdir(a.mnist):
        datasets.insert(0, ("mnist", os.path.abspath(a.mnist)))
    elif "mnist" in wanted:
        print(f"note: no MNIST at {a.mnist}; pass --mnist DIR to include it", file=sys.stderr)
    # Rows of what this run does not redo are kept from an earlier run.
    rows = []
    previous = os.path.join(a.out, "results.json")
    if os.path.exists(previous):
        with open(previous) as f:
            rows = [r for r in json.load(f)
                    if not (r["data"] in [d for d, _ in datasets] and r["shape"] in shapes
                            and (not r["tag"] or not a.no_sensitivity))]
    for data_name, data in datasets:
        for shape in shapes:
            for seed in range(1, a.seeds + 1):
                for arm in ARMS:
                    rows.append(run_study(a.out, data_name, data, shape, arm, seed, a.trials))
                print(f"{data_name} {shape} seed {seed} done", file=sys.stderr)
    if not a.no_sensitivity and "128" in shapes and any(d == "fashion-mnist" for d, _ in datasets):
        for N, P in ((3, 50), (10, 50), (5, 25), (5, 75)):
            for seed in range(1, a.seeds + 1):
                rows.append(run_study(a.out, "fashion-mnist", "fashion-mnist", "128", "lcm", seed,
                                      a.trials, N=N, P=P, tag=f"sens-N{N}-P{P}"))
            print(f"sensitivity N={N} P={P} done", file=sys.stderr)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(summary(rows))
    # Figures of seed 1 per arm (Fashion-MNIST, hidden 128), with krill report's plotting.
    for shape, folder in (("128", ""), ("cnn", "cnn-")):
        if shape not in shapes:
            continue
        for arm in ARMS:
            r = next((r for r in rows if r["data"] == "fashion-mnist" and r["shape"] == shape
                      and r["arm"] == arm and r["seed"] == 1 and not r["tag"]), None)
            if r and os.path.exists(r["db"]):
                subprocess.run([KRILL, "report", r["db"], "--png",
                                os.path.join(a.out, "figures", folder + arm)],
                               check=True, stdout=subprocess.DEVNULL)
    print(summary(rows))


if __name__ == "__main__":
    main()
