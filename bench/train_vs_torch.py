#!/usr/bin/env python3
"""krill vs PyTorch: one epoch on Fashion-MNIST, side by side (the MLP or the LeNet-like CNN).

--model mlp (default): the 784-512-256-10 MLP; --model cnn: the network of
../shared/baselines/torch_train.py --model cnn (conv 1->32 5x5, relu, maxpool 2, conv 32->64 5x5,
relu, maxpool 2, flatten, dense 1024->10), krill's side as a model spec. For each batch size it
runs, in one session on one machine:
  - `krill train` with 1 and 2 threads (best kept), PyTorch's initialisation, plain SGD lr 0.01;
  - ../shared/baselines/torch_train.py with the same settings under four thread settings
    (torch threads x OPENBLAS_NUM_THREADS in {1, 2}), best kept;
  - the machine's single-precision peak: a 2048^3 sgemm (krill_bench's BM_SgemmPeak,
    BM_SgemmPeakOpenblas and BM_SgemmPeakOnednn: krill's backend, OpenBLAS, oneDNN; the fastest kept) at the thread count of
    krill's best run; the share of it that krill's epoch reaches counts the
    useful FLOPs of a step (the 2mnk of its GEMMs or convolutions: forward, weight gradients, input
    gradients but for the first layer), as krill_bench's BM_CnnTrainStep does;
  - MLP only: the GEMM-only floor: krill_bench's BM_GemmFloor (the GEMMs of one step)
    times the steps of an epoch, with the thread count of krill's best run.
Every setting runs once per round, rounds interleaved (noise on a shared machine hits all
settings alike); times are the minimum over --repeats rounds (seeds 1..R), accuracies the mean. Peak resident
memory is measured per process (wait4). Prints a Markdown table and writes JSON to --out.

Usage: bench/run.sh [--model mlp|cnn] [--repeats 3] [--batches 32,128,256]  (builds, installs
python3-torch; --batches defaults to 64 for the CNN)
"""
import argparse, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KRILL = os.path.join(ROOT, "build", "apps", "krill", "krill")
BENCH = os.path.join(ROOT, "build", "bench", "krill_bench")
TORCH = os.path.join(ROOT, "..", "shared", "baselines", "torch_train.py")
N_TRAIN = 60000

# krill's model spec and torch_train.py's --model for each --model of this script.
MODELS = {
    "mlp": dict(krill="mlp:512,256", torch="mlp:512,256", batches="32,128,256"),
    "cnn": dict(krill="conv:32:5,relu,maxpool:2,conv:64:5,relu,maxpool:2,flatten,dense:10",
                torch="cnn", batches="64"),
}


def step_flops_per_sample(model):
    """Useful FLOPs of one training step per sample: 2 x the multiply-adds of every GEMM (or
    convolution) of forward, weight gradient and input gradient (none for the first layer)."""
    if model == "mlp":
        layers = [784 * 512, 512 * 256, 256 * 10]
        return 2.0 * (3 * sum(layers) - layers[0])
    conv1, conv2, dense = 32.0 * 25 * 24 * 24, 64.0 * 800 * 8 * 8, 1024.0 * 10
    return 2.0 * (2 * conv1 + 3 * conv2 + 3 * dense)


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, peak RSS in MB of that process, from wait4)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.close(r)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execve(cmd[0], cmd, env if env is not None else os.environ)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed with status {status}")
    return b"".join(chunks).decode(), usage.ru_maxrss / 1024.0


def krill_epoch(model, batch, threads, seed, data):
    cmd = [KRILL, "train", "--data", data, "--model", MODELS[model]["krill"], "--init", "torch",
           "--lr", "0.01", "--batch", str(batch), "--epochs", "1", "--validation", "0",
           "--threads", str(threads), "--seed", str(seed), "--json", "--quiet"]
    out, rss = run_measured(cmd)
    d = json.loads(out)
    return dict(seconds=d["train_seconds"], accuracy=d["test_accuracy"], rss_mb=rss)


def torch_epoch(model, batch, threads, blas_threads, seed, data):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads))
    cmd = ["/usr/bin/python3", TORCH, "--data", data, "--model", MODELS[model]["torch"], "--batch",
           str(batch), "--epochs", "1", "--lr", "0.01", "--threads", str(threads), "--seed", str(seed)]
    out, rss = run_measured(cmd, env)
    d = json.loads(out.strip().splitlines()[-1])
    return dict(seconds=d["train_s"], accuracy=d["test_acc"], rss_mb=rss)


def bench_seconds(name, threads, min_time=0.5):
    """The fastest iteration time, in seconds, of krill_bench's benchmark `name` (exact match)."""
    env = dict(os.environ, KRILL_THREADS=str(threads))
    out, _ = run_measured([BENCH, f"--benchmark_filter=^{name}$", "--benchmark_format=json",
                           f"--benchmark_min_time={min_time}"], env)
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    return min(b["real_time"] * scale[b["time_unit"]] for b in runs)


def gemm_floor_step_seconds(batch, threads):
    return bench_seconds(f"BM_GemmFloor/{batch}", threads)


def sgemm_peak_gflops(threads):
    """GFLOP/s of a 2048^3 sgemm on `threads` threads: the fastest of krill's backend
    (krill_bench's BM_SgemmPeak), OpenBLAS (BM_SgemmPeakOpenblas) and oneDNN (BM_SgemmPeakOnednn,
    when built with it)."""
    names = ["BM_SgemmPeak", "BM_SgemmPeakOpenblas"]
    listed = run_measured([BENCH, "--benchmark_list_tests"])[0]
    if "BM_SgemmPeakOnednn/2048" in listed:
        names.append("BM_SgemmPeakOnednn")
    fastest = min(bench_seconds(f"{name}/2048", threads, min_time=1.0) for name in names)
    return 2.0 * 2048 ** 3 / fastest * 1e-9


def best(results):
    return dict(seconds=min(r["seconds"] for r in results),
                accuracy=sum(r["accuracy"] for r in results) / len(results),
                rss_mb=max(r["rss_mb"] for r in results))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="mlp")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default=None, help="default: 32,128,256 (mlp), 64 (cnn)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=None,
                    help="default: bench/results/train_vs_torch.json (mlp), train_vs_torch_cnn.json")
    a = ap.parse_args()
    batches = a.batches or MODELS[a.model]["batches"]
    suffix = "" if a.model == "mlp" else f"_{a.model}"
    out_path = a.out or os.path.join(ROOT, "bench", "results", f"train_vs_torch{suffix}.json")
    flops_per_sample = step_flops_per_sample(a.model)
    for f in (KRILL, BENCH, TORCH):
        if not os.path.exists(f):
            sys.exit(f"bench: {f} is missing (run bench/run.sh, which builds krill)")

    rows = []
    for batch in (int(b) for b in batches.split(",")):
        # Rounds interleave every setting, so that a noisy spell on a shared machine hits them all.
        krill = {t: [] for t in (1, 2)}
        torch = {(t, bt): [] for t in (1, 2) for bt in (1, 2)}
        floor_step = {t: [] for t in (1, 2)}
        peak = {t: [] for t in (1, 2)}
        for seed in range(1, a.repeats + 1):
            for t in krill:
                krill[t].append(krill_epoch(a.model, batch, t, seed, a.data))
                if a.model == "mlp":
                    floor_step[t].append(gemm_floor_step_seconds(batch, t))
                peak[t].append(sgemm_peak_gflops(t))
            for t, bt in torch:
                torch[(t, bt)].append(torch_epoch(a.model, batch, t, bt, seed, a.data))
        krill = {t: best(v) for t, v in krill.items()}
        torch = {k: best(v) for k, v in torch.items()}
        kt = min(krill, key=lambda t: krill[t]["seconds"])
        tt = min(torch, key=lambda k: torch[k]["seconds"])
        floor = min(floor_step[kt]) * N_TRAIN / batch if floor_step[kt] else None
        peak_gflops = max(peak[kt])
        krill_gflops = flops_per_sample * N_TRAIN / krill[kt]["seconds"] * 1e-9
        row = dict(model=a.model, batch=batch, krill_threads=kt, krill=krill[kt],
                   krill_by_threads={str(t): v for t, v in krill.items()},
                   torch_setting=dict(torch_threads=tt[0], openblas_threads=tt[1]),
                   torch=torch[tt], torch_by_setting={f"{t}x{bt}": v for (t, bt), v in torch.items()},
                   gemm_floor_seconds=floor,
                   ratio_krill_over_torch=krill[kt]["seconds"] / torch[tt]["seconds"],
                   floor_over_krill=floor / krill[kt]["seconds"] if floor else None,
                   useful_gflop_per_epoch=flops_per_sample * N_TRAIN * 1e-9,
                   krill_gflops=krill_gflops, sgemm_peak_gflops=peak_gflops,
                   sgemm_peak_by_threads={str(t): max(v) for t, v in peak.items()},
                   share_of_peak=krill_gflops / peak_gflops)
        rows.append(row)
        print(f"batch {batch}: krill {krill[kt]['seconds']:.3f}s ({kt} thr), torch "
              f"{torch[tt]['seconds']:.3f}s ({tt[0]} thr, OPENBLAS_NUM_THREADS={tt[1]}), "
              f"floor {floor or float('nan'):.3f}s, {krill_gflops:.1f} of {peak_gflops:.1f} GFLOP/s "
              f"({100 * krill_gflops / peak_gflops:.0f}% of sgemm peak)", file=sys.stderr)

    meta = dict(date=time.strftime("%Y-%m-%d %H:%M"), model=a.model, repeats=a.repeats,
                load_average=os.getloadavg(),
                openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
                openblas_l2_size=os.environ.get("OPENBLAS_L2_SIZE", "<unset>"),
                cpu=next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                          if l.startswith("model name")), "?"), cores=os.cpu_count())
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)

    print(f"OPENBLAS_CORETYPE={meta['openblas_coretype']}, {meta['cpu']}, {meta['cores']} cores, "
          f"min of {a.repeats} runs, load average at the end {meta['load_average'][0]:.2f}\n")
    print("| model | batch | krill s/epoch (threads) | PyTorch best s/epoch (torch thr x BLAS thr) | krill / PyTorch "
          "| GEMM floor s | floor / krill | krill GFLOP/s | sgemm peak GFLOP/s | share of peak "
          "| test acc krill | test acc PyTorch | peak RSS krill MB | peak RSS PyTorch MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["torch_setting"]
        floor = "-" if r["gemm_floor_seconds"] is None else f"{r['gemm_floor_seconds']:.3f}"
        floor_share = "-" if r["floor_over_krill"] is None else f"{r['floor_over_krill']:.2f}"
        print(f"| {r['model']} | {r['batch']} | {r['krill']['seconds']:.3f} ({r['krill_threads']}) | "
              f"{r['torch']['seconds']:.3f} ({s['torch_threads']}x{s['openblas_threads']}) | "
              f"{r['ratio_krill_over_torch']:.2f} | {floor} | {floor_share} | "
              f"{r['krill_gflops']:.1f} | {r['sgemm_peak_gflops']:.1f} | {100 * r['share_of_peak']:.0f}% | "
              f"{100 * r['krill']['accuracy']:.2f} | "
              f"{100 * r['torch']['accuracy']:.2f} | {r['krill']['rss_mb']:.0f} | {r['torch']['rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
