import Tensor

/// Plain Float64-capable twins of the fused losses, for gradient checks and tests.
public enum ReferenceLosses {
  public static func mse<T: BinaryFloatingPoint>(_ p: [T], _ t: [T]) -> T {
    zip(p, t).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / T(p.count)
  }

  public static func crossEntropy<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ logits: [T], n: Int, c: Int,
    labels: [Int]
  ) -> T {
    let lp = Reference.logSoftmax(logits, n: n, c: c)
    // Negative labels are ignored rows, as `crossEntropy` has them.
    let rows = labels.enumerated().filter { $0.element >= 0 }
    return -rows.reduce(0) { $0 + lp[$1.offset * c + $1.element] } / T(max(rows.count, 1))
  }

  /// ``cosineMarginLogits`` followed by ``crossEntropy``, in plain loops: e [n, d], weight [c, d].
  public static func cosineMarginCrossEntropy<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ e: [T], _ weight: [T], n: Int, d: Int, c: Int, labels: [Int], scale: T, margin: T
  ) -> T {
    let en = Reference.l2NormalizedRows(e, n: n, d: d)
    let wn = Reference.l2NormalizedRows(weight, n: c, d: d)
    var logits = [T](repeating: 0, count: n * c)
    for i in 0..<n {
      for j in 0..<c {
        var cos: T = 0
        for t in 0..<d { cos += en[i * d + t] * wn[j * d + t] }
        logits[i * c + j] = scale * (cos - (labels[i] == j ? margin : 0))
      }
    }
    return crossEntropy(logits, n: n, c: c, labels: labels)
  }

  /// Batch-hard triplet loss as the reference workloads define it (cdist, hardest positive over
  /// d·same, hardest negative over d + 1e9·same, mean hinge).
  public static func batchHardTriplet<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ z: [T], n: Int, d: Int,
    labels: [Int], margin: T
  ) -> T {
    func dist(_ i: Int, _ j: Int) -> T {
      var s: T = 0
      for k in 0..<d {
        let v = z[i * d + k] - z[j * d + k]
        s += v * v
      }
      return T.sqrtShim(s)
    }
    var total: T = 0
    for i in 0..<n {
      var pos: T = -T.greatestFiniteMagnitude
      var neg: T = T.greatestFiniteMagnitude
      for j in 0..<n {
        let same = labels[i] == labels[j]
        let dij = i == j ? 0 : dist(i, j)
        pos = max(pos, same ? dij : 0)
        neg = min(neg, same ? dij + 1e9 : dij)
      }
      total += max(pos - neg + margin, 0)
    }
    return total / T(n)
  }

  /// ``highFrequencyMSELoss`` on [N, C, H, W] values in plain loops: the mean square of
  /// (p − t) − box3×3(p − t) with circular padding.
  public static func highFrequencyMSE<T: BinaryFloatingPoint>(
    _ p: [T], _ t: [T], planes: Int, height h: Int, width w: Int
  ) -> T {
    var total: T = 0
    for c in 0..<planes {
      for i in 0..<h {
        for j in 0..<w {
          func d(_ y: Int, _ x: Int) -> T {
            let k = c * h * w + ((y + h) % h) * w + (x + w) % w
            return p[k] - t[k]
          }
          var box: T = 0
          for dy in -1...1 { for dx in -1...1 { box += d(i + dy, j + dx) } }
          let r = d(i, j) - box / 9
          total += r * r
        }
      }
    }
    return total / T(p.count)
  }
}
