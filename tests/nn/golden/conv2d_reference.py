#!/usr/bin/env python3
"""Golden values for tests/nn/conv_test.cpp: PyTorch's Conv2d on fixed inputs.

Every input comes from a formula (no random numbers), so the C++ test rebuilds them exactly:
  x[n, c, h, w]  = ((7n + 5c + 3h + 2w) mod 11 - 5) / 4
  W[o, c, u, v]  = ((3o + 5c + 2u + 7v) mod 9 - 4) / 8
  b[o]           = (o - 1) / 4
  dy[n, o, i, j] = ((n + 2o + 3i + 5j) mod 7 - 3) / 4    (the gradient fed to backward)
It prints, per case, the forward output y and the gradients dx, dW, db as C++ initializer lists,
flattened in PyTorch's (row-major NCHW) order, which is krill's. Computed in float64.

Usage: /usr/bin/python3 conv2d_reference.py
"""

import torch

# (name, batch, in_channels, height, width, out_channels, kernel, stride, padding)
CASES = [
    ("Stride2Pad1", 2, 2, 5, 4, 3, 3, 2, 1),
    ("Stride1Pad0", 1, 2, 4, 3, 2, 2, 1, 0),
]


def tensor(shape, f):
    t = torch.empty(shape, dtype=torch.float64)
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in shape]).reshape(-1, len(shape)):
        t[tuple(idx.tolist())] = f(*idx.tolist())
    return t


def cpp(name, t):
    values = ", ".join(f"{v:.9g}" for v in t.flatten().tolist())
    return f"  const std::vector<double> {name} = {{{values}}};"


def main():
    print(f"// torch {torch.__version__}")
    for name, n, c, h, w, oc, k, s, p in CASES:
        x = tensor((n, c, h, w), lambda a, b, i, j: ((7 * a + 5 * b + 3 * i + 2 * j) % 11 - 5) / 4)
        x.requires_grad_(True)
        conv = torch.nn.Conv2d(c, oc, k, stride=s, padding=p).double()
        with torch.no_grad():
            conv.weight.copy_(tensor((oc, c, k, k),
                                     lambda a, b, i, j: ((3 * a + 5 * b + 2 * i + 7 * j) % 9 - 4) / 8))
            conv.bias.copy_(torch.tensor([(o - 1) / 4 for o in range(oc)], dtype=torch.float64))
        y = conv(x)
        dy = tensor(tuple(y.shape), lambda a, b, i, j: ((a + 2 * b + 3 * i + 5 * j) % 7 - 3) / 4)
        y.backward(dy)
        print(f"// {name}: x [{n}, {c}, {h}, {w}], {oc} channels, kernel {k}, stride {s}, "
              f"padding {p} -> y {list(y.shape)}")
        print(cpp("y", y.detach()))
        print(cpp("dx", x.grad))
        print(cpp("dw", conv.weight.grad))
        print(cpp("db", conv.bias.grad))


if __name__ == "__main__":
    main()
