import Foundation

// Shapes: x [N, C] → [N, C]; numerically stable (max subtracted before exp).

/// Row-wise log-softmax of [N, C] logits.
public func logSoftmax(_ x: Tensor) -> Tensor {
  precondition(x.shape.rank == 2, "logSoftmax expects [N, C], got \(x.shape)")
  let xp = x.layout == .plain ? x : x.toLayout(.plain)
  let (n, c) = (x.shape[0], x.shape[1])
  let out = Tensor(uninitialized: x.shape)
  for i in 0..<n {
    let row = xp.pointer + i * c
    let o = out.pointer + i * c
    var m = -Float.infinity
    for j in 0..<c { m = max(m, row[j]) }
    var s: Float = 0
    for j in 0..<c { s += Foundation.exp(row[j] - m) }
    let lse = m + Foundation.log(s)
    for j in 0..<c { o[j] = row[j] - lse }
  }
  let y = out.detached()
  return record("logSoftmax", out, [xp]) { g in
    let r = Tensor(uninitialized: y.shape)
    for i in 0..<n {
      let gi = g.pointer + i * c
      let yi = y.pointer + i * c
      var s: Float = 0
      for j in 0..<c { s += gi[j] }
      for j in 0..<c { r.pointer[i * c + j] = gi[j] - Foundation.exp(yi[j]) * s }
    }
    return [r]
  }
}
