/// A seeded, splittable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random tensor is drawn serially from one generator, so results depend on the seed only,
/// never on the thread count.
public struct RNG: RandomNumberGenerator, Sendable {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  /// Creates a generator from a seed.
  public init(seed: UInt64) {
    var z = seed
    func splitmix() -> UInt64 {
      z &+= 0x9E37_79B9_7F4A_7C15
      var x = z
      x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
      x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
      return x ^ (x >> 31)
    }
    s = (splitmix(), splitmix(), splitmix(), splitmix())
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = rotl(s.3, 45)
    return result
  }

  @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A uniform Float in [0, 1) with 24 random bits.
  public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// A uniform Float in [low, high).
  public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

  /// A standard normal sample (Box–Muller).
  public mutating func normal() -> Float {
    let u1 = Double(next() >> 11) * 0x1p-53
    let u2 = Double(next() >> 11) * 0x1p-53
    return Float((-2 * log(max(u1, 1e-300))).squareRoot() * cos(2 * Double.pi * u2))
  }

  /// A uniform integer in `0..<n`.
  public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }

  /// A generator for a sub-stream, for example one per worker or per model seed.
  public mutating func split() -> RNG { RNG(seed: next()) }
}

#if canImport(Glibc)
  import Glibc
#endif
