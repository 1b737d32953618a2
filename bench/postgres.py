#!/usr/bin/env python3
"""krill's studies on PostgreSQL beside Optuna's RDB storage on the same server (issue 15).

Run by bench/postgres.sh, which installs, builds and starts a throwaway server, and passes its
admin URL (libpq, database postgres) as --url. Two parts, each on fresh databases:

1. Per-trial cost, interleaved for --repeats rounds: krill_study_bench's BM_TrialPostgres (random
   and Sobol; a fresh study each run) and bench/optuna_rdb.py (random; --trials after 10 warm-up)
   on databases of their own on the same server, then for reference the same on SQLite (a
   temporary file each). Ratio: krill's ms per trial / Optuna's, the goal at most 1/10.
2. Processes on one study: P = 1, 2, 4, 8 krill_study_procs on one study of --budget trials, on
   SQLite (a temporary file) and PostgreSQL (a fresh database): trials per second from the launch
   to the last exit, and a check that the study holds exactly the budget, numbers distinct.

Writes the raw numbers to --out (JSON) and prints a summary.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
PY = "/usr/bin/python3"


def with_db(url, db):
    """The admin URL (postgresql://user@/postgres?host=..&port=..) on database `db`."""
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{db}" + (f"?{query}" if query else "")


def psql(url, sql):
    return subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def fresh_db(admin, name):
    psql(admin, f"DROP DATABASE IF EXISTS {name}")
    psql(admin, f"CREATE DATABASE {name}")
    return with_db(admin, name)


def wal(admin):
    """The server's WAL fsyncs so far and their time in ms (track_wal_io_timing, set by
    bench/postgres.sh): the mean fsync latency during a measurement explains most of its noise."""
    n, ms = psql(admin, "SELECT wal_sync, wal_sync_time FROM pg_stat_wal").split("|")
    return int(n), float(ms)


def wal_delta(admin, before):
    # Backends report their statistics when idle, at most once a second: wait for them.
    time.sleep(1.1)
    n, ms = wal(admin)
    dn, dms = n - before[0], ms - before[1]
    return dict(wal_fsyncs=dn, fsync_ms=dms / dn if dn else None)


def krill_bench(binary, filt, env=None, min_time=2):
    out = subprocess.run([os.path.join(BUILD, binary), f"--benchmark_filter={filt}",
                          "--benchmark_format=json", f"--benchmark_min_time={min_time}"],
                         check=True, capture_output=True, text=True,
                         env=dict(os.environ, **(env or {}))).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("error_occurred"):
            raise SystemExit(f"{b['name']}: {b.get('error_message')}")
        unit = {"us": 1e-3, "ms": 1.0, "ns": 1e-6}[b["time_unit"]]
        rows[b["name"]] = dict(ms_per_trial=b["real_time"] * unit,
                               cpu_ms_per_trial=b["cpu_time"] * unit, iterations=b["iterations"])
    return rows


def optuna(args_):
    out = subprocess.run([PY, os.path.join(ROOT, "bench", "optuna_rdb.py"), *args_], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def procs(storage, p, budget, name="procs"):
    binary = os.path.join(BUILD, "krill_study_procs")
    t0 = time.perf_counter()
    children = [subprocess.Popen([binary, "run", storage, "--study", name, "--budget", str(budget),
                                  "--worker", str(i)], stdout=subprocess.PIPE, text=True)
                for i in range(p)]
    outs = [c.communicate()[0] for c in children]
    wall = time.perf_counter() - t0
    bad = [c.returncode for c in children if c.returncode != 0]
    if bad:
        raise SystemExit(f"krill_study_procs failed ({bad}) on {storage}")
    per = [json.loads(o.strip().splitlines()[-1]) for o in outs]
    check = subprocess.run([binary, "check", storage, "--study", name, "--budget", str(budget)],
                           capture_output=True, text=True)
    verdict = json.loads(check.stdout.strip().splitlines()[-1])
    return dict(processes=p, budget=budget, wall_s=wall, trials_per_s=budget / wall,
                per_process=[r["trials"] for r in per], check=verdict)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the server's admin URL (database postgres)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=200, help="Optuna's timed trials per run")
    ap.add_argument("--sqlite-trials", type=int, default=50, help="Optuna's on SQLite")
    ap.add_argument("--budget", type=int, default=2000, help="the multi-process study's trials")
    ap.add_argument("--processes", default="1,2,4,8")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "postgres.json"))
    ap.add_argument("--server", default="{}", help="JSON: the server's settings, for the record")
    args = ap.parse_args()
    admin = args.url
    sqlalchemy_url = lambda url: url.replace("postgresql://", "postgresql+psycopg2://", 1)
    result = dict(date=time.strftime("%Y-%m-%d %H:%M"), server=json.loads(args.server),
                  nproc=os.cpu_count(), loadavg_start=os.getloadavg(), per_trial=[], procs=[])

    # 1. Per-trial cost, krill and Optuna alternately on the same server.
    for r in range(args.repeats):
        order = ["krill", "optuna"] if r % 2 == 0 else ["optuna", "krill"]
        row = dict(repeat=r, order=order)
        for who in order:
            before = wal(admin)
            if who == "krill":
                url = fresh_db(admin, f"krill_bench_{r}")
                row["krill"] = krill_bench("krill_study_bench", "BM_TrialPostgres",
                                           env={"KRILL_BENCH_PG_URL": url})
            else:
                url = fresh_db(admin, f"optuna_bench_{r}")
                row["optuna"] = optuna(["--storage", sqlalchemy_url(url), "--trials",
                                        str(args.trials)])
            row[f"{who}_wal"] = wal_delta(admin, before)
        row["krill_sqlite"] = krill_bench("krill_study_bench", "BM_TrialSqlite/0")
        row["optuna_sqlite"] = optuna(["--sqlite", "--trials", str(args.sqlite_trials)])
        k = row["krill"]["BM_TrialPostgres/0/real_time"]["ms_per_trial"]
        o = row["optuna"]["ms_per_trial"]
        row["ratio_random"] = k / o
        print(f"round {r}: krill {k:.2f} ms/trial (sobol "
              f"{row['krill']['BM_TrialPostgres/1/real_time']['ms_per_trial']:.2f}), "
              f"optuna {o:.2f} ms/trial on PostgreSQL: 1/{o / k:.1f} (mean fsync "
              f"{row['krill_wal']['fsync_ms'] or 0:.2f} / {row['optuna_wal']['fsync_ms'] or 0:.2f} ms); "
              f"SQLite: krill "
              f"{row['krill_sqlite']['BM_TrialSqlite/0']['ms_per_trial']:.3f}, optuna "
              f"{row['optuna_sqlite']['ms_per_trial']:.1f}", flush=True)
        result["per_trial"].append(row)

    # The storage alone (no sampler, no Study): five transactions a trial.
    url = fresh_db(admin, "krill_store_bench")
    result["store_bench"] = krill_bench("krill_store_bench", "BM_TrialWrite",
                                        env={"KRILL_BENCH_PG_URL": url}, min_time=1)

    # 2. P processes on one study.
    ps = [int(p) for p in args.processes.split(",")]
    for r in range(args.repeats):
        for p in ps:
            for kind in ("sqlite", "postgres"):
                if kind == "sqlite":
                    d = tempfile.mkdtemp(prefix="krill-procs-")
                    storage = os.path.join(d, "study.db")
                else:
                    storage = fresh_db(admin, f"procs_{r}_{p}")
                before = wal(admin)
                row = dict(repeat=r, storage=kind, **procs(storage, p, args.budget))
                if kind == "postgres":
                    row.update(wal_delta(admin, before))
                if kind == "sqlite":
                    shutil.rmtree(d, ignore_errors=True)
                print(f"{kind:8} P={p}: {row['trials_per_s']:.0f} trials/s "
                      f"({row['wall_s']:.2f} s, per process {row['per_process']}, "
                      f"check {'ok' if row['check']['ok'] else row['check']}"
                      + (f", {row['wal_fsyncs'] / args.budget:.2f} fsyncs/trial of "
                         f"{row['fsync_ms'] or 0:.2f} ms" if kind == "postgres" else "")
                      + ")", flush=True)
                result["procs"].append(row)
    result["loadavg_end"] = os.getloadavg()

    # Summary: medians over the rounds.
    med = statistics.median
    k = med(r["krill"]["BM_TrialPostgres/0/real_time"]["ms_per_trial"] for r in result["per_trial"])
    ks = med(r["krill"]["BM_TrialPostgres/1/real_time"]["ms_per_trial"] for r in result["per_trial"])
    o = med(r["optuna"]["ms_per_trial"] for r in result["per_trial"])
    ratios = [r["ratio_random"] for r in result["per_trial"]]
    summary = dict(krill_pg_random_ms=k, krill_pg_sobol_ms=ks, optuna_pg_ms=o, ratio=k / o,
                   ratio_per_round=ratios, median_ratio_of_rounds=med(ratios),
                   goal_met=k / o <= 0.1,
                   krill_sqlite_ms=med(r["krill_sqlite"]["BM_TrialSqlite/0"]["ms_per_trial"]
                                       for r in result["per_trial"]),
                   optuna_sqlite_ms=med(r["optuna_sqlite"]["ms_per_trial"]
                                        for r in result["per_trial"]),
                   procs={})
    for kind in ("sqlite", "postgres"):
        for p in ps:
            rows = [r for r in result["procs"] if r["storage"] == kind and r["processes"] == p]
            summary["procs"][f"{kind} P={p}"] = dict(
                trials_per_s=med(r["trials_per_s"] for r in rows),
                all_checks_ok=all(r["check"]["ok"] for r in rows))
    result["summary"] = summary
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"\nper trial (median of {args.repeats}): krill {k:.2f} ms (sobol {ks:.2f}), "
          f"Optuna {o:.2f} ms on PostgreSQL: krill/Optuna = {k / o:.3f} (1/{o / k:.1f}; goal <= 1/10: "
          f"{'met' if k / o <= 0.1 else 'NOT met'}); per round: "
          + ", ".join(f"1/{1 / x:.1f}" for x in ratios))
    for name, s in summary["procs"].items():
        print(f"  {name:14} {s['trials_per_s']:8.0f} trials/s  checks {'ok' if s['all_checks_ok'] else 'FAILED'}")
    print(f"raw: {args.out}")
    return 0 if all(s["all_checks_ok"] for s in summary["procs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
