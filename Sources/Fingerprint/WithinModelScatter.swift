/// The within-model scatter of embeddings grouped by model, shared by the whitening learned from
/// synthetic models (``EmbeddingWhitening``) and the metric adapted to a gallery's enrolled images.
public enum WithinModelScatter {
  /// Σ over groups, Σ over a group's vectors of (x − m)(x − m)ᵀ / `divisor`, m the group's mean, as
  /// the lower triangle (j ≤ i) of a row-major d × d matrix; the upper triangle is left 0.
  public static func lowerTriangle(_ groups: [[[Double]]], dimension d: Int, divisor: Double) -> [Double] {
    precondition(
      groups.allSatisfy { $0.allSatisfy { $0.count == d } }, "WithinModelScatter: vectors of another width than \(d)")
    var w = [Double](repeating: 0, count: d * d)
    for xs in groups {
      var m = [Double](repeating: 0, count: d)
      for x in xs { for j in 0..<d { m[j] += x[j] / Double(xs.count) } }
      for x in xs {
        let c = (0..<d).map { x[$0] - m[$0] }
        for i in 0..<d where c[i] != 0 {
          let ci = c[i] / divisor
          for j in 0...i { w[i * d + j] += ci * c[j] }
        }
      }
    }
    return w
  }
}
