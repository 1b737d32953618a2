#!/usr/bin/env python3
"""Independent reference for the unscrambled Sobol points in tests/hpo/sampler_test.cpp.

Written from S. Joe and F. Y. Kuo, "Notes on generating Sobol' sequences" (2008) and the first
rows of their direction-number file new-joe-kuo-6.21201, not from Boost's C++. Point 0 is the
origin; point i is point i-1 XOR the direction number V_c, where c is the position of the lowest
zero bit of i-1 (Antonov-Saleev Gray-code order). The first two dimensions agree with J.
Burkardt's published i4_sobol test output (0.5 0.5, 0.75 0.25, 0.25 0.75, 0.375 0.375, ...).

Usage: python3 sobol_reference.py [dims] [count]   (prints exact binary fractions)
"""

import sys
from fractions import Fraction

BITS = 32

# new-joe-kuo-6.21201, dimensions 2..5: (s = degree, a = inner coefficients, m = initial numbers).
JOE_KUO = [
    (1, 0, [1]),
    (2, 1, [1, 3]),
    (3, 1, [1, 3, 1]),
    (3, 2, [1, 1, 1]),
]


def direction_numbers(dim):
    """V_1..V_BITS of dimension `dim` (1-based), scaled by 2^BITS."""
    if dim == 1:
        m = [1] * BITS
    else:
        s, a, m = JOE_KUO[dim - 2]
        m = list(m)
        for k in range(s, BITS):
            new = m[k - s] ^ (m[k - s] << s)
            for i in range(1, s):
                if (a >> (s - 1 - i)) & 1:
                    new ^= m[k - i] << i
            m.append(new)
    return [m[k] << (BITS - 1 - k) for k in range(BITS)]


def points(dims, count):
    v = [direction_numbers(d) for d in range(1, dims + 1)]
    x = [0] * dims
    out = [list(x)]
    for i in range(1, count):
        c = 0
        while ((i - 1) >> c) & 1:
            c += 1
        x = [x[d] ^ v[d][c] for d in range(dims)]
        out.append(list(x))
    return [[Fraction(xd, 1 << BITS) for xd in p] for p in out]


if __name__ == "__main__":
    dims = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    for i, p in enumerate(points(dims, count)):
        print(i, " ".join(str(float(f)) for f in p))
