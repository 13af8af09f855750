/// A covering set of a space: every value of every digit, and every pair of values of two digits,
/// appears in at least one of its architectures (a strength-2 covering array).
///
/// Sweeping all 17 920 extended architectures forward and backward takes minutes; a fault that needs
/// one component, or two meeting (pixel shuffle before group norm, a 5×5 kernel in a residual unit),
/// shows in this set of some fifty. Built greedily (AETG-style): each step takes the first
/// architecture in id order that covers the most pairs not yet covered, so the set is deterministic.
extension Architecture {
  /// The digits `b l o u a n c r` (zero-based values).
  public var digits: [Int] {
    [
      blocks - 1, layers - 1, order.rawValue, upsampling.rawValue, activation.rawValue, norm.rawValue,
      kernel.rawValue, residual ? 1 : 0,
    ]
  }

  /// A pairwise covering set of `space`, in the order it was built.
  public static func coveringSet(of space: ArchitectureSpace) -> [Architecture] {
    let candidates = Architecture.space(space)
    let digits = candidates.map(\.digits)
    let d = digits[0].count
    let levels = (0..<d).map { i in digits.map { $0[i] }.max()! + 1 }
    let top = levels.max()!
    // Pair (i < j, vi, vj) → one flag in a flat table.
    func code(_ i: Int, _ j: Int, _ vi: Int, _ vj: Int) -> Int { ((i * d + j) * top + vi) * top + vj }
    var covered = [Bool](repeating: true, count: d * d * top * top)
    var uncovered = 0
    for i in 0..<d {
      for j in (i + 1)..<d {
        for vi in 0..<levels[i] {
          for vj in 0..<levels[j] {
            covered[code(i, j, vi, vj)] = false
            uncovered += 1
          }
        }
      }
    }
    var chosen: [Architecture] = []
    while uncovered > 0 {
      var best = -1
      var bestGain = 0
      for (k, v) in digits.enumerated() {
        var gain = 0
        for i in 0..<d { for j in (i + 1)..<d where !covered[code(i, j, v[i], v[j])] { gain += 1 } }
        if gain > bestGain { (best, bestGain) = (k, gain) }
      }
      let v = digits[best]
      for i in 0..<d { for j in (i + 1)..<d { covered[code(i, j, v[i], v[j])] = true } }
      uncovered -= bestGain
      chosen.append(candidates[best])
    }
    return chosen
  }
}
