import Foundation
import Tensor

/// Exact t-SNE (van der Maaten & Hinton, 2008) to two dimensions, for the embedding scatter of an
/// evaluation report. O(n²) per iteration: meant for the few thousand points of an evaluation set.
public struct TSNE: Sendable {
  /// Effective number of neighbours each point's Gaussian is tuned to.
  public var perplexity = 30.0
  /// Gradient-descent iterations; the first `exaggerationIterations` use exaggerated affinities.
  public var iterations = 750
  public var exaggeration = 12.0
  public var exaggerationIterations = 250
  /// Step size; nil picks max(n / exaggeration / 4, 50) as scikit-learn's "auto" does (a fixed 200
  /// throws points of small sets into other clusters).
  public var learningRate: Double? = nil
  /// Seed of the initial layout.
  public var seed: UInt64 = 0

  public init() {}

  /// 2-D coordinates of `points` (rows of equal length) under cosine distance.
  public func embed(_ points: [[Float]]) -> [(x: Double, y: Double)] {
    let n = points.count
    guard n > 1 else { return points.map { _ in (0, 0) } }
    precondition(points.allSatisfy { $0.count == points[0].count }, "TSNE: rows of different lengths")
    let normed = points.map { p -> [Double] in
      let v = p.map(Double.init)
      let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
      return v.map { $0 / norm }
    }
    var d = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in (i + 1)..<n {
        var dot = 0.0
        for k in normed[i].indices { dot += normed[i][k] * normed[j][k] }
        d[i * n + j] = max(0, 1 - dot)
        d[j * n + i] = d[i * n + j]
      }
    }
    let p = affinities(d, n: n)
    var rng = RNG(seed: seed)
    var y = (0..<(2 * n)).map { _ in Double(rng.normal()) * 1e-4 }
    var velocity = [Double](repeating: 0, count: 2 * n)
    var gains = [Double](repeating: 1, count: 2 * n)
    var q = [Double](repeating: 0, count: n * n)
    let eta = learningRate ?? max(Double(n) / exaggeration / 4, 50)
    for iter in 0..<iterations {
      let ex = iter < exaggerationIterations ? exaggeration : 1
      let momentum = iter < exaggerationIterations ? 0.5 : 0.8
      var sum = 0.0
      for i in 0..<n {
        for j in (i + 1)..<n {
          let dx = y[2 * i] - y[2 * j]
          let dy = y[2 * i + 1] - y[2 * j + 1]
          let w = 1 / (1 + dx * dx + dy * dy)
          q[i * n + j] = w
          q[j * n + i] = w
          sum += 2 * w
        }
      }
      for i in 0..<n {
        var gx = 0.0
        var gy = 0.0
        for j in 0..<n where j != i {
          let w = q[i * n + j]
          let f = (ex * p[i * n + j] - w / sum) * w
          gx += f * (y[2 * i] - y[2 * j])
          gy += f * (y[2 * i + 1] - y[2 * j + 1])
        }
        for (k, g) in [(2 * i, 4 * gx), (2 * i + 1, 4 * gy)] {
          // Delta-bar-delta gains as in the reference implementation.
          gains[k] = (g > 0) != (velocity[k] > 0) ? gains[k] + 0.2 : max(0.01, gains[k] * 0.8)
          velocity[k] = momentum * velocity[k] - eta * gains[k] * g
        }
      }
      for k in y.indices { y[k] += velocity[k] }
      let mx = stride(from: 0, to: 2 * n, by: 2).reduce(0) { $0 + y[$1] } / Double(n)
      let my = stride(from: 1, to: 2 * n, by: 2).reduce(0) { $0 + y[$1] } / Double(n)
      for i in 0..<n {
        y[2 * i] -= mx
        y[2 * i + 1] -= my
      }
    }
    return (0..<n).map { (y[2 * $0], y[2 * $0 + 1]) }
  }

  /// Symmetrised joint probabilities: each row's Gaussian bandwidth found by bisection so that its
  /// entropy matches log(perplexity).
  func affinities(_ d: [Double], n: Int) -> [Double] {
    let target = log(max(1, min(perplexity, Double(n - 1) / 3)))
    var p = [Double](repeating: 0, count: n * n)
    var row = [Double](repeating: 0, count: n)
    for i in 0..<n {
      var beta = 1.0
      var lo = 0.0
      var hi = Double.infinity
      for _ in 0..<64 {
        var sum = 0.0
        var weighted = 0.0
        for j in 0..<n {
          // Squared distances, as the Gaussian kernel of the original method.
          let dij = d[i * n + j] * d[i * n + j]
          row[j] = j == i ? 0 : exp(-beta * dij)
          sum += row[j]
          weighted += row[j] * dij
        }
        sum = max(sum, 1e-300)
        let entropy = log(sum) + beta * weighted / sum
        if abs(entropy - target) < 1e-5 { break }
        if entropy > target {
          lo = beta
          beta = hi.isFinite ? (beta + hi) / 2 : beta * 2
        } else {
          hi = beta
          beta = (beta + lo) / 2
        }
      }
      let sum = max(row.reduce(0, +), 1e-300)
      for j in 0..<n { p[i * n + j] = row[j] / sum }
    }
    var out = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n { out[i * n + j] = max((p[i * n + j] + p[j * n + i]) / Double(2 * n), 1e-12) }
    }
    return out
  }
}
