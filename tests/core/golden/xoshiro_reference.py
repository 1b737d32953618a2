#!/usr/bin/env python3
"""Independent reference for krill::Rng's golden values (tests/core/rng_test.cpp).

Written from the published algorithms at https://prng.di.unimi.it/ (splitmix64.c and
xoshiro256starstar.c by Blackman and Vigna), not from krill's C++: the four 64-bit state words of
xoshiro256** are the first four outputs of SplitMix64 started at the seed, as the authors
recommend. Prints the first values of next() for a seed (default 42).

Usage: python3 xoshiro_reference.py [seed] [count]
"""

import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.x = seed & MASK

    def next(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & MASK
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro256StarStar:
    def __init__(self, seed):
        sm = SplitMix64(seed)
        self.s = [sm.next() for _ in range(4)]

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    g = Xoshiro256StarStar(seed)
    for _ in range(count):
        print(f"0x{g.next():016x}ULL")


if __name__ == "__main__":
    main()
