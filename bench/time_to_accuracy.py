#!/usr/bin/env python3
"""Time to accuracy: krill tune against Optuna + PyTorch on the same study (issue 11).

Per seed:
1. Optuna runs the study of ../shared/baselines/optuna_study.py with --sampler tpe --pruner median
   --n-jobs 2 --threads 1 --trials 50 (OPENBLAS_NUM_THREADS=1, in memory). The best validation
   accuracy it reaches in those trials is the *target*; Optuna's time to it is, from the script's
   timeline, the time of the first completed trial with an accuracy >= target (seconds since
   study.optimize started: imports and data loading excluded).
2. krill runs the equivalent study file (the one bench/study_vs_optuna.py writes: 10,000 training
   and 5,000 validation images, the same space, network, 1 epoch, batch 32, a curve point every
   100 iterations) with 2 workers x 1 thread, a budget of --krill-trials trials, and each sampler x
   stopping rule of --krill-settings. Its time to the target is the `finished` time (from
   `krill export`) of the first completed trial with a value >= target, minus the moment the
   `krill tune` process was started (data loading included). While it runs, the database is read
   every --poll seconds; once a trial has reached the target the process is interrupted (this only
   saves time: the measurement is the trial's own finish time).

Reports, per seed and setting, krill's time / Optuna's time, and their median over seeds; a
setting that does not reach the target within its budget has no ratio ("not reached"). Also the
same for a looser target (target - --loose points), a check on the fact that the two sides'
validation images differ (Optuna validates on the last 5,000 training images, krill on a seeded
third of the first 15,000), so an accuracy is not exactly the same bar on both sides.

Usage: /usr/bin/python3 bench/time_to_accuracy.py [--seeds 1,2,3] [--optuna-trials 50]
       [--krill-trials 100] [--krill-settings tpe/none,tpe/median,tpe/lcm] [--nice 0]
       [--deadline HH:MM] [--out FILE]; --merge A.json B.json ... writes the rows of several runs to --out
Needs build/apps/krill/krill (scripts/build.sh; or $KRILL) and Debian's python3-optuna and python3-torch.
Writes bench/results/time_to_accuracy.json and prints the table of docs/BENCHMARKS.md
("Time to accuracy: krill vs Optuna").
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

from study_vs_optuna import baseline_study, env1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KRILL = os.environ.get("KRILL", os.path.join(ROOT, "build", "apps", "krill", "krill"))  # $KRILL: another binary
OPTUNA_STUDY = os.path.join(ROOT, "..", "shared", "baselines", "optuna_study.py")
PYTHON = "/usr/bin/python3"
EPS = 1e-9

STOPPING = {"none": "{rule: none}", "median": "{rule: median}", "asha": "{rule: asha}", "lcm": "{rule: lcm}"}



def niced(cmd, nice):
    return (["nice", "-n", str(nice)] if nice else []) + cmd


def first_reaching(points, target):
    """points: [(seconds, value)] of completed trials; the earliest time with value >= target."""
    ts = [t for t, v in points if v is not None and v >= target - EPS]
    return min(ts) if ts else None


def run_optuna(a, seed):
    cmd = [PYTHON, OPTUNA_STUDY, "--data", a.data, "--trials", str(a.optuna_trials), "--sampler", "tpe",
           "--pruner", "median", "--storage", "memory", "--n-jobs", "2", "--threads", "1",
           "--subset", str(a.subset), "--seed", str(seed)]
    t0 = time.perf_counter()
    out = subprocess.run(niced(cmd, a.nice), check=True, capture_output=True, text=True, env=env1()).stdout
    process_s = time.perf_counter() - t0
    d = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    timeline = d.pop("timeline")
    target = max(v for _, v in timeline)
    # startup_s: the process's time outside study.optimize (imports, data loading, and after the
    # study the best trial's test score, a fraction of a second): an upper bound on its start-up.
    return dict(side="optuna", seed=seed, target=target, wall_s=d["wall_s"], process_s=process_s,
                startup_s=process_s - d["wall_s"],
                complete=d["complete"], pruned=d["pruned"], best_params=d["best_params"],
                time_to_target_s=first_reaching(timeline, target),
                time_to_loose_s=first_reaching(timeline, target - a.loose), timeline=timeline)


def export(db):
    r = subprocess.run([KRILL, "export", db, "--format", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)["trials"]
    except (ValueError, KeyError):
        return None


def completed_points(trials, t0):
    return [(t["finished"] - t0, t["value"]) for t in trials if t["state"] == "completed"]


def run_krill(a, seed, sampler, rule, target):
    d = tempfile.mkdtemp(prefix="krill-tta-")
    path, db = os.path.join(d, "study.yaml"), os.path.join(d, "study.db")
    with open(path, "w") as f:
        # bench/study_vs_optuna.py's study file, with the sampler and the stopping rule chosen.
        f.write(baseline_study(a.data, a.krill_trials, seed, workers=2, name="tta", sampler=sampler,
                               stopping=STOPPING[rule], subset=a.subset * 3 // 2, storage="study.db"))
    cmd = niced([KRILL, "tune", path, "--quiet", "--threads", "1"], a.nice)
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env1())
    interrupted = False
    while p.poll() is None:
        time.sleep(a.poll)
        if not a.run_out and os.path.exists(db):
            trials = export(db)
            if trials and first_reaching(completed_points(trials, t0), target) is not None:
                p.send_signal(signal.SIGINT)
                interrupted = True
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                break
    process_s = time.time() - t0
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0 and not interrupted:
        sys.exit(f"krill tune failed ({p.returncode}): {err}")
    trials = export(db) or []
    pts = completed_points(trials, t0)
    states = [t["state"] for t in trials]
    t_target = first_reaching(pts, target)
    best = max((v for _, v in pts), default=None)
    return dict(side="krill", seed=seed, sampler=sampler, rule=rule, target=target,
                reached=t_target is not None, time_to_target_s=t_target,
                time_to_loose_s=first_reaching(pts, target - a.loose), process_s=process_s,
                interrupted=interrupted, trials_started=len(trials),
                completed=states.count("completed"), stopped=states.count("stopped"),
                trials_done_at_target=None if t_target is None else
                sum(1 for t in trials if t["state"] in ("completed", "stopped", "diverged")
                    and t["finished"] - t0 <= t_target + EPS),
                best_val_acc=best, timeline=[[round(t, 3), v] for t, v in sorted(pts)])


def median_or_inf(xs):
    """The median of ratios, a target not reached counting as worse than any (None -> inf)."""
    xs = [float("inf") if x is None else x for x in xs]
    return statistics.median(xs) if xs else None


def summarize(rows, settings):
    out = []
    for s in settings:
        rs = [r for r in rows if r["krill"].get(s)]

        def ratios(key, optuna_s):
            return [None if r["krill"][s][key] is None else r["krill"][s][key] / optuna_s(r["optuna"])
                    for r in rs]

        tgt = ratios("time_to_target_s", lambda o: o["time_to_target_s"])
        loose = ratios("time_to_loose_s", lambda o: o["time_to_loose_s"])
        # Optuna counted from its process start, as krill is (imports and data loading included)
        proc = ratios("time_to_target_s", lambda o: o["time_to_target_s"] + o["startup_s"])
        # how far below the target krill's best is at a third of Optuna's time to it (the goal's
        # time): target - best value completed by then (the target itself if none completed)
        # (None: no trial completed by then); and how many trials had completed
        gaps, done3 = [], []
        for r in rs:
            t3 = r["optuna"]["time_to_target_s"] / 3
            vs = [v for t, v in r["krill"][s]["timeline"] if t <= t3]
            gaps.append(max(0.0, r["optuna"]["target"] - max(vs)) if vs else None)
            done3.append(len(vs))
        out.append(dict(setting=s, seeds=len(rs), reached=sum(x is not None for x in tgt),
                        gaps_at_third=gaps, median_gap_at_third=median_or_inf(gaps), completed_at_third=done3,
                        ratios=tgt, median_ratio=median_or_inf(tgt),
                        loose_ratios=loose, median_loose_ratio=median_or_inf(loose),
                        process_ratios=proc, median_process_ratio=median_or_inf(proc)))
    return out


def print_tables(res):
    settings = res["settings"]
    print(f"\nTime to Optuna's best validation accuracy after {res['optuna_trials']} trials "
          f"(krill budget {res['krill_trials']} trials):\n")
    print("| seed | target | Optuna s (trials done) | " +
          " | ".join(f"krill {s} s (trials done) | ratio" for s in settings) + " |")
    print("|---|---|---|" + "---|---|" * len(settings))
    for r in res["rows"]:
        o = r["optuna"]
        cells = []
        for s in settings:
            k = r["krill"].get(s)
            if k is None:
                cells += ["-", "-"]
            elif k["reached"]:
                cells += [f"{k['time_to_target_s']:.1f} ({k['trials_done_at_target']})",
                          f"{k['time_to_target_s'] / o['time_to_target_s']:.2f}"]
            else:
                cells += [f"not reached in {k['completed'] + k['stopped']} (best {k['best_val_acc']:.4f}, "
                          f"{k['process_s']:.0f} s)", "-"]
        n_at = 1 + [v for _, v in o["timeline"]].index(o["target"])
        print(f"| {r['seed']} | {o['target']:.4f} | {o['time_to_target_s']:.1f} ({n_at} of {o['complete']}) | "
              + " | ".join(cells) + " |")
    print("\n| krill setting | reached | median ratio (each seed) | "
          f"looser target (-{res['loose']}): median ratio (each seed) | "
          "Optuna from its process start: median ratio (each seed) | "
          "at 1/3 of Optuna's time: points below the target, median (each seed); trials completed, median |")
    print("|---|---|---|---|---|---|")
    def cell(med, xs):  # "-": not reached within krill's budget
        f = lambda x: "-" if x is None or x == float("inf") else f"{x:.2f}"
        return f"{f(med)} ({', '.join(f(x) for x in xs)})"

    for s in res["summary"]:
        print(f"| {s['setting']} | {s['reached']}/{s['seeds']} | {cell(s['median_ratio'], s['ratios'])} | "
              f"{cell(s['median_loose_ratio'], s['loose_ratios'])} | "
              f"{cell(s['median_process_ratio'], s['process_ratios'])} | "
              f"{cell(100 * s['median_gap_at_third'], [None if g is None else 100 * g for g in s['gaps_at_third']])}; "
              f"{statistics.median(s['completed_at_third']):g} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated")
    ap.add_argument("--optuna-trials", type=int, default=50)
    ap.add_argument("--krill-trials", type=int, default=100)
    ap.add_argument("--krill-settings", default="tpe/none,tpe/median,tpe/lcm",
                    help="comma-separated sampler/rule (rules: none, median, asha, lcm; default options)")
    ap.add_argument("--subset", type=int, default=10000, help="training images (krill: 1.5x, a third held out)")
    ap.add_argument("--loose", type=float, default=0.005, help="the looser target is target - this")
    ap.add_argument("--poll", type=float, default=1.0, help="seconds between reads of krill's database")
    ap.add_argument("--run-out", action="store_true", help="run krill's whole budget (no interrupt)")
    ap.add_argument("--nice", type=int, default=0, help="run both sides under nice -n N")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--deadline", default=None, help="HH:MM (UTC): start no new run after it")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "time_to_accuracy.json"))
    ap.add_argument("--print-only", action="store_true", help="print the tables of --out, run nothing")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="run nothing: write the rows of these result files (runs of other seeds) to --out")
    a = ap.parse_args()
    if a.merge:
        runs = []
        for p in a.merge:
            with open(p) as f:
                runs.append(json.load(f))
        res = dict(runs[0], runs=[{k: v for k, v in r.items() if k not in ("rows", "summary")} for r in runs],
                   rows=[row for r in runs for row in r["rows"]],
                   settings=list(dict.fromkeys(s for r in runs for s in r["settings"])))
        res["summary"] = summarize(res["rows"], res["settings"])
        with open(a.out, "w") as f:
            json.dump(res, f, indent=None, separators=(",", ":"))
        print_tables(res)
        return
    if a.print_only:
        with open(a.out) as f:
            res = json.load(f)
        res["summary"] = summarize(res["rows"], res["settings"])
        print_tables(res)
        return
    settings = a.krill_settings.split(",")
    for s in settings:
        sampler, rule = s.split("/")
        assert sampler in ("tpe", "random") and rule in STOPPING, s

    def late():
        return a.deadline and time.strftime("%H:%M", time.gmtime()) >= a.deadline

    def load1():
        return os.getloadavg()[0]

    res = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), optuna_trials=a.optuna_trials,
               krill_trials=a.krill_trials, settings=settings, subset=a.subset, loose=a.loose, nice=a.nice,
               openblas_num_threads="1 (set by this script, both sides)",
               openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
               openblas_l2_size=os.environ.get("OPENBLAS_L2_SIZE", "<unset>"),
               cores=os.cpu_count(), load_before=os.getloadavg(), rows=[])

    def save():
        res["summary"] = summarize(res["rows"], settings)
        res["load_after"] = os.getloadavg()
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=None, separators=(",", ":"))

    for seed in [int(s) for s in a.seeds.split(",")]:
        if late():
            print(f"deadline {a.deadline} passed: seed {seed} not run", file=sys.stderr)
            break
        l0 = load1()
        o = run_optuna(a, seed)
        print(f"seed {seed}: optuna target {o['target']:.4f} at {o['time_to_target_s']:.1f} s "
              f"(study {o['wall_s']:.1f} s, process {o['process_s']:.1f} s, {o['complete']} complete, "
              f"{o['pruned']} pruned; load {l0:.2f})", file=sys.stderr)
        row = dict(seed=seed, optuna=o, krill={}, load=[l0])
        res["rows"].append(row)
        for s in settings:
            if late():
                print(f"deadline {a.deadline} passed: krill {s} seed {seed} not run", file=sys.stderr)
                break
            l0 = load1()
            k = run_krill(a, seed, *s.split("/"), o["target"])
            row["krill"][s] = k
            row["load"].append(l0)
            if k["reached"]:
                msg = (f"target at {k['time_to_target_s']:.1f} s after {k['trials_done_at_target']} trials, "
                       f"ratio {k['time_to_target_s'] / o['time_to_target_s']:.2f}")
            else:
                msg = f"not reached in {k['completed'] + k['stopped']} trials (best {k['best_val_acc']})"
            print(f"  krill {s}: {msg} (process {k['process_s']:.1f} s; load {l0:.2f})", file=sys.stderr)
            save()
        save()
    print_tables(res)


if __name__ == "__main__":
    main()
