"""The engine's random generator (Sources/Tensor/RNG.swift) in Python, for scripts that must draw the very
integers the Swift code draws: the training fixture's batches, the evaluation protocol's pairs."""

MASK = (1 << 64) - 1


class RNG:
    """Sources/Tensor/RNG.swift: xoshiro256** seeded with four splitmix64 outputs."""

    def __init__(self, seed):
        z = seed & MASK
        s = []
        for _ in range(4):
            z = (z + 0x9E3779B97F4A7C15) & MASK
            x = z
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
            s.append(x ^ (x >> 31))
        self.s = s

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def int(self, n):
        return self.next() % n
