#!/usr/bin/env python3
"""Reference importances for tests/hpo/importance_test.cpp, from Optuna's own
PedAnovaImportanceEvaluator (optuna/importance/_ped_anova, Optuna 4.x/5.0.dev; its defaults:
target_quantile 0.1, region_quantile 1.0, 50 grid steps, prior weight 1).

The trials are made by the same formulas as the C++ test's golden_trials(): integer arithmetic and
one division for the unit values, so both sides hold the same doubles.

Usage: PYTHONPATH=<an Optuna checkout with PED-ANOVA> python3 ped_anova_reference.py
(numpy is the only other package it needs: Debian's python3-numpy and python3-optuna's
dependencies suffice.)
"""

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import PedAnovaImportanceEvaluator

ACTS = ["relu", "tanh", "gelu"]
DISTRIBUTIONS = {
    "x": FloatDistribution(0.0, 1.0),
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "width": IntDistribution(1, 8),
    "units": IntDistribution(1, 1000, log=True),
    "act": CategoricalDistribution(ACTS),
    "z": FloatDistribution(0.0, 1.0),
}


def trials(n):
    out = []
    for i in range(n):
        x = ((i * 37) % 101 + 0.5) / 101
        b = ((i * 53) % 97 + 0.5) / 97
        params = {
            "x": x,
            "lr": 10.0 ** (-4.0 + 4.0 * b),
            "width": 1 + (i * 5) % 8,
            "units": 1 + (i * 131) % 1000,
            "act": ACTS[(i // 2 + i * i) % 3],
            "z": ((i * 71) % 89 + 0.5) / 89,
        }
        value = (4.0 * (x - 0.3) ** 2 + 0.2 * (b - 0.5) ** 2 + 0.02 * abs(params["width"] - 4)
                 + (0.5 if params["act"] == "tanh" else 0.0) + 0.001 * params["units"] / 1000)
        out.append((params, value))
    return out


def importances(n, direction, **options):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction=direction)
    for params, value in trials(n):
        # A maximized study gets the negated values: the same ranking.
        value = -value if direction == "maximize" else value
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=DISTRIBUTIONS, value=value))
    evaluator = PedAnovaImportanceEvaluator(**options)
    return optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)


def main():
    cases = [
        ("60 trials, minimize, defaults", 60, "minimize", {}),
        ("60 trials, maximize, target 0.2, region 0.5", 60, "maximize",
         {"target_quantile": 0.2, "region_quantile": 0.5}),
        ("7 trials, minimize, defaults", 7, "minimize", {}),
    ]
    for title, n, direction, options in cases:
        print(title)
        for name, value in importances(n, direction, **options).items():
            print(f"  {{\"{name}\", {value!r}}},")


if __name__ == "__main__":
    main()
