#!/usr/bin/env python3
"""Golden values for tests/nn/batch_norm_test.cpp: PyTorch's BatchNorm1d and BatchNorm2d.

Every input comes from a formula (no random numbers), so the C++ test rebuilds them exactly. With
the index (n, c, h, w) of an image value, or (n, c) of a feature (h = w = 0):
  x[n, c, h, w]  = ((7n + 5c + 3h + 2w) mod 11 - 5) / 4      (the first batch)
  x2[n, c, h, w] = ((3n + 2c + 5h + 7w) mod 13 - 6) / 3      (the second batch)
  gamma[c]       = (c + 2) / 4
  beta[c]        = (c - 1) / 4
  dy[n, c, h, w] = ((n + 2c + 3h + 5w) mod 7 - 3) / 4        (the gradient fed to backward)
Defaults: momentum 0.1, eps 1e-5, running statistics starting at mean 0, variance 1.
It prints, per case, as C++ initializer lists flattened in PyTorch's (row-major NCHW) order,
which is krill's:
  y, dx, dgamma, dbeta    the training forward on x and its backward from dy
  running_mean, running_var   after training forwards on x, then x2
  y_eval                  the evaluation forward on x with those running statistics
Computed in float64.

Usage: /usr/bin/python3 batchnorm_reference.py
"""

import torch

# (name, batch, channels, height, width); height = width = 0 means BatchNorm1d on [batch, channels]
CASES = [
    ("Features", 4, 3, 0, 0),
    ("Images", 2, 3, 2, 3),
]


def tensor(shape, f):
    t = torch.empty(shape, dtype=torch.float64)
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in shape]).reshape(-1, len(shape)):
        i = idx.tolist()
        t[tuple(i)] = f(*(i + [0] * (4 - len(i))))
    return t


def cpp(name, t):
    values = ", ".join(f"{v:.9g}" for v in t.flatten().tolist())
    return f"  const std::vector<double> {name} = {{{values}}};"


def main():
    print(f"// torch {torch.__version__}")
    for name, n, c, h, w in CASES:
        images = h > 0
        shape = (n, c, h, w) if images else (n, c)
        bn = (torch.nn.BatchNorm2d(c) if images else torch.nn.BatchNorm1d(c)).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([(k + 2) / 4 for k in range(c)], dtype=torch.float64))
            bn.bias.copy_(torch.tensor([(k - 1) / 4 for k in range(c)], dtype=torch.float64))
        x = tensor(shape, lambda a, b, i, j: ((7 * a + 5 * b + 3 * i + 2 * j) % 11 - 5) / 4)
        x2 = tensor(shape, lambda a, b, i, j: ((3 * a + 2 * b + 5 * i + 7 * j) % 13 - 6) / 3)
        dy = tensor(shape, lambda a, b, i, j: ((a + 2 * b + 3 * i + 5 * j) % 7 - 3) / 4)
        x.requires_grad_(True)
        bn.train()
        y = bn(x)
        y.backward(dy)
        with torch.no_grad():
            bn(x2)
        bn.eval()
        with torch.no_grad():
            y_eval = bn(x)
        print(f"// {name}: x {list(shape)}, {'BatchNorm2d' if images else 'BatchNorm1d'}({c})")
        print(cpp("y", y.detach()))
        print(cpp("dx", x.grad))
        print(cpp("dgamma", bn.weight.grad))
        print(cpp("dbeta", bn.bias.grad))
        print(cpp("running_mean", bn.running_mean))
        print(cpp("running_var", bn.running_var))
        print(cpp("y_eval", y_eval))


if __name__ == "__main__":
    main()
