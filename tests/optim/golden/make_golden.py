#!/usr/bin/env python3
"""Golden values for tests/optim: PyTorch's optimizers and schedulers on a tiny fixed problem.

Run with `/usr/bin/python3 tests/optim/golden/make_golden.py`; it prints C++ initializer lists
to paste into sgd_test.cpp, adam_test.cpp and schedule_test.cpp (with the torch version).
"""
import math

import torch

# A parameter w of 5 values and the gradients of 3 steps, all exactly representable in float32
# or rounded once when converted (torch and the C++ test start from the same float32 values).
W0 = [0.5, -1.25, 2.0, 0.0, -0.75]
GRADS = [
    [0.1, -0.2, 0.3, -0.4, 0.5],
    [-0.3, 0.25, 0.05, 1.5, -0.6],
    [0.2, 0.2, -0.7, 0.0, 0.35],
]


def fmt(values):
    return "{" + ", ".join("%.9g" % v for v in values) + "}"


def run_optimizer(make):
    w = torch.tensor(W0, dtype=torch.float32, requires_grad=True)
    opt = make([w])
    rows = []
    for g in GRADS:
        w.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        rows.append(w.detach().tolist())
    return rows


def print_optimizer(name, make):
    rows = run_optimizer(make)
    print("// %s: w after each of the 3 steps" % name)
    print("{" + ",\n ".join(fmt(r) for r in rows) + "}")
    print()


def lr_after(make_scheduler, base, iterations):
    """The learning rate in effect at each iteration i (after i scheduler steps)."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=base)
    sched = make_scheduler(opt)
    wanted = set(iterations)
    out = {}
    for i in range(max(iterations) + 1):
        if i in wanted:
            out[i] = opt.param_groups[0]["lr"]
        opt.step()  # no gradient: a no-op, but keeps the scheduler from warning about order
        sched.step()
    return [out[i] for i in iterations]


def cosine_warmup(base, i, warmup, total, min_factor):
    if i < warmup:
        return base * (i + 1) / warmup
    p = min(1.0, (i - warmup) / (total - warmup))
    return base * (min_factor + (1 - min_factor) * (1 + math.cos(math.pi * p)) / 2)


def main():
    print("// torch version %s" % torch.__version__)
    print()
    print("// W0 = %s" % fmt(W0))
    for k, g in enumerate(GRADS):
        print("// grad %d = %s" % (k, fmt(g)))
    print()

    sgd = torch.optim.SGD
    print_optimizer("SGD lr=0.1", lambda p: sgd(p, lr=0.1))
    print_optimizer("SGD lr=0.1 momentum=0.9", lambda p: sgd(p, lr=0.1, momentum=0.9))
    print_optimizer("SGD lr=0.1 momentum=0.9 nesterov",
                    lambda p: sgd(p, lr=0.1, momentum=0.9, nesterov=True))
    print_optimizer("SGD lr=0.1 momentum=0.9 weight_decay=0.01",
                    lambda p: sgd(p, lr=0.1, momentum=0.9, weight_decay=0.01))

    adam = torch.optim.Adam
    print_optimizer("Adam (all defaults: lr=0.001)", lambda p: adam(p))
    print_optimizer("Adam lr=0.1 (betas, eps default)", lambda p: adam(p, lr=0.1))
    print_optimizer("Adam lr=0.1 weight_decay=0.1", lambda p: adam(p, lr=0.1, weight_decay=0.1))

    base = 0.1
    its = [0, 1, 99, 100, 101, 199, 200, 250, 999, 1000]
    print("// StepLR(step_size=100, gamma=0.95), base 0.1, at iterations %s" % fmt(its))
    print(fmt(lr_after(lambda o: torch.optim.lr_scheduler.StepLR(o, 100, 0.95), base, its)))
    print()
    its = [0, 1, 2, 10, 100, 500]
    print("// ExponentialLR(gamma=0.99), base 0.1, at iterations %s" % fmt(its))
    print(fmt(lr_after(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.99), base, its)))
    print()
    its = [0, 4, 9, 10, 35, 60, 85, 110, 200]
    print("// cosine warmup=10 total=110 min_factor=0.1 (math module), base 0.1, at %s" % fmt(its))
    print(fmt([cosine_warmup(base, i, 10, 110, 0.1) for i in its]))
    print()
    its = [0, 1, 2, 3, 50, 99]
    print("// cosine warmup=0 total=100 min_factor=0 (math module), base 0.1, at %s" % fmt(its))
    print(fmt([cosine_warmup(base, i, 0, 100, 0.0) for i in its]))


if __name__ == "__main__":
    main()
