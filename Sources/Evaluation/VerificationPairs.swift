// The 1:1 verification pairs of the evaluation protocol (../shared/DESIGN.md, "Evaluation protocol"):
// seeded, half of them same-model, so that every method and every run scores the very same pairs.

import Tensor

/// Seeded verification pairs: even draws are same-model pairs, odd draws pairs of two different models.
public enum VerificationPairs {
  /// `count` pairs of indices into `labels`. Labels with a single member only take part in
  /// different-model pairs. At least one label with two members and two distinct labels are needed.
  public static func draw(labels: [Int], count: Int, seed: UInt64) -> [(a: Int, b: Int, same: Bool)] {
    let classes = Array(Set(labels)).sorted()
    let members = Dictionary(grouping: labels.indices, by: { labels[$0] })
    let multi = classes.filter { members[$0]!.count >= 2 }
    precondition(
      classes.count >= 2 && !multi.isEmpty,
      "VerificationPairs: needs 2 labels and one with 2 members, got \(classes.count) labels, \(multi.count) with 2+")
    var rng = RNG(seed: seed)
    var out: [(Int, Int, Bool)] = []
    out.reserveCapacity(count)
    for k in 0..<count {
      if k % 2 == 0 {
        let m = members[multi[rng.int(multi.count)]]!
        let a = rng.int(m.count)
        var b = rng.int(m.count - 1)
        if b >= a { b += 1 }
        out.append((m[a], m[b], true))
      } else {
        let c1 = rng.int(classes.count)
        var c2 = rng.int(classes.count - 1)
        if c2 >= c1 { c2 += 1 }
        let m1 = members[classes[c1]]!
        let m2 = members[classes[c2]]!
        out.append((m1[rng.int(m1.count)], m2[rng.int(m2.count)], false))
      }
    }
    return out
  }

  /// Cosine scores of the pairs (dot products of the normalised embeddings).
  public static func scores(_ pairs: [(a: Int, b: Int, same: Bool)], normalised: [[Float]]) -> [Float] {
    pairs.map { Vectors.dot(normalised[$0.a], normalised[$0.b]) }
  }
}
