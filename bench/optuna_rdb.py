#!/usr/bin/env python3
"""Optuna's per-trial cost on its RDB storage: the work of krill's bench/study_bench.cpp per trial.

A fresh study (direction maximize, RandomSampler), the space lr (log 1e-3..0.5), momentum
(0..0.95), weight_decay (log 1e-6..1e-2); the objective reports three intermediate values (steps
100, 200, 300) and returns lr. --warmup trials first (imports, the connection, the schema,
SQLAlchemy's statement cache), then --trials timed with study.optimize. Prints one JSON line:
{"storage": ..., "trials": N, "ms_per_trial": ..., "optuna": version, ...}.

Storages: --storage postgresql+psycopg2://user@/db?host=SOCKDIR&port=PORT (any SQLAlchemy URL),
or --sqlite (a temporary file, removed afterwards), or --memory (Optuna's InMemoryStorage).
bench/postgres.sh runs it beside krill_study_bench on the same server.
"""
import argparse, json, os, sys, tempfile, time, uuid

import optuna


def objective(trial):
    lr = trial.suggest_float("lr", 1e-3, 0.5, log=True)
    trial.suggest_float("momentum", 0.0, 0.95)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    for step in (1, 2, 3):
        trial.report(lr * step, step * 100)
    return lr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--storage", help="an SQLAlchemy URL (postgresql+psycopg2://...)")
    where.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    where.add_argument("--memory", action="store_true", help="Optuna's InMemoryStorage")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    tmp = None
    if args.sqlite:
        tmp = tempfile.mkdtemp(prefix="optuna-rdb-")
        url, kind = f"sqlite:///{tmp}/study.db", "sqlite"
    elif args.memory:
        url, kind = None, "memory"
    else:
        url, kind = args.storage, args.storage.split(":", 1)[0]
    storage = optuna.storages.RDBStorage(url) if url else optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=f"optuna-rdb-{uuid.uuid4().hex[:12]}", storage=storage,
                                direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=args.seed))
    study.optimize(objective, n_trials=args.warmup)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=args.trials)
    wall = time.perf_counter() - t0
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert done == args.warmup + args.trials, done

    versions = {"optuna": optuna.__version__}
    try:
        import sqlalchemy
        versions["sqlalchemy"] = sqlalchemy.__version__
    except ImportError:
        pass
    if kind.startswith("postgresql"):
        import psycopg2
        versions["psycopg2"] = psycopg2.__version__.split()[0]
    print(json.dumps(dict(storage=kind, trials=args.trials, warmup=args.warmup, wall_s=wall,
                          ms_per_trial=1000 * wall / args.trials, **versions)))
    if tmp:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
