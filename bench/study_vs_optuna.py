#!/usr/bin/env python3
"""krill tune vs Optuna + PyTorch on the same study, side by side in one run.

The study of ../shared/baselines/optuna_study.py --sampler random --pruner none: 20 trials of the
784-512-256-10 MLP, SGD, batch 32, one epoch on 10,000 training images, validation accuracy on
5,000 held-out images every 100 iterations; searched lr (log 1e-3..0.5), momentum (0..0.95),
weight_decay (log 1e-6..1e-2). krill runs the equivalent study file with 1 worker x 2 threads and
2 workers x 1 thread; Optuna with SQLite storage under three settings (n_jobs x torch threads x
OPENBLAS_NUM_THREADS: 1x1x2, 1x1x1, 2x1x1). Best of each side kept, for each of --repeats seeds.
krill's time is the whole `krill tune` process (data loading included); Optuna's is its own
wall_s (study.optimize only: data loading and imports excluded) — a comparison that favours Optuna.

Usage: bench/run.sh is for training; run this one as: /usr/bin/python3 bench/study_vs_optuna.py
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KRILL = os.path.join(ROOT, "build", "apps", "krill", "krill")
OPTUNA = os.path.join(ROOT, "..", "shared", "baselines", "optuna_study.py")

def baseline_study(data, trials, seed, workers, name="optuna-equivalent", sampler="random",
                   stopping=None, eval_every=100, subset=15000, storage=None):
    """The study of optuna_study.py as a krill study file: the first `subset` training images, a
    third held out (15,000: 10,000 to train on, 5,000 to validate), the same space and network.
    Also used by bench/time_to_accuracy.py and bench/samplers_vs_optuna.py."""
    lines = [f"study: {name}", f"data: {data}"]
    if storage:
        lines.append(f"storage: {storage}")
    lines += [f"subset: {subset}", f"validation: {1 / 3}", "objective: val_accuracy",
              f"trials: {trials}", f"workers: {workers}", f"seed: {seed}", f"sampler: {sampler}"]
    if stopping:
        lines.append(f"stopping: {stopping}")
    lines += ["model:", '  hidden: "512,256"', "  init: torch", "training:", "  optimizer: sgd",
              "  batch: 32", "  epochs: 1"]
    if eval_every:
        lines.append(f"  eval_every: {eval_every}")
    lines += ["search:",
              "  lr: {type: float, low: 0.001, high: 0.5, log: true}",
              "  momentum: {type: float, low: 0.0, high: 0.95}",
              "  weight_decay: {type: float, low: 1.0e-6, high: 0.01, log: true}"]
    return "\n".join(lines) + "\n"


def env1():
    """One thread for OpenBLAS and OpenMP, as the comparisons run both sides."""
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def krill_study(data, trials, workers, seed):
    d = tempfile.mkdtemp(prefix="krill-vs-optuna-")
    path = os.path.join(d, "study.yaml")
    with open(path, "w") as f:
        f.write(baseline_study(data, trials, seed, workers))
    t0 = time.perf_counter()
    subprocess.run([KRILL, "tune", path, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    out = subprocess.run([KRILL, "export", os.path.join(d, "optuna-equivalent.db"), "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    done = [t for t in json.loads(out)["trials"] if t["state"] == "completed"]
    best = max(done, key=lambda t: t["value"])
    return dict(wall_s=wall, completed=len(done), best_val_acc=best["value"],
                best_test_acc=best["attrs"].get("test_accuracy", float("nan")), workers=workers)


def optuna_study(data, trials, n_jobs, blas_threads, seed):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads))
    out = subprocess.run(["/usr/bin/python3", OPTUNA, "--data", data, "--trials", str(trials),
                          "--sampler", "random", "--pruner", "none", "--storage", "sqlite",
                          "--n-jobs", str(n_jobs), "--threads", "1", "--seed", str(seed)],
                         check=True, capture_output=True, text=True, env=env).stdout
    d = json.loads(out.strip().splitlines()[-1])
    d["setting"] = f"n_jobs={n_jobs} threads=1 OPENBLAS_NUM_THREADS={blas_threads}"
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "study_vs_optuna.json"))
    a = ap.parse_args()
    rows = []
    for seed in range(1, a.repeats + 1):
        k = [krill_study(a.data, a.trials, w, seed) for w in (1, 2)]
        o = [optuna_study(a.data, a.trials, j, bt, seed) for j, bt in ((1, 2), (1, 1), (2, 1))]
        kb, ob = min(k, key=lambda r: r["wall_s"]), min(o, key=lambda r: r["wall_s"])
        rows.append(dict(seed=seed, krill=k, optuna=o, krill_best=kb, optuna_best=ob,
                         ratio=kb["wall_s"] / ob["wall_s"]))
        print(f"seed {seed}: krill {kb['wall_s']:.1f}s ({kb['workers']} workers) best val "
              f"{kb['best_val_acc']:.4f} test {kb['best_test_acc']:.4f} | optuna {ob['wall_s']:.1f}s "
              f"({ob['setting']}) best val {ob['best_val_acc']:.4f} test {ob['best_test_acc']:.4f} | "
              f"ratio {kb['wall_s'] / ob['wall_s']:.2f}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(dict(date=time.strftime("%Y-%m-%d %H:%M"),
                       openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", "<unset>"), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
