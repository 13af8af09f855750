// Row-wise L2 normalisation of [N, D], the building block of cosine classifiers.

/// Each row of `x` [N, D] divided by its Euclidean norm, or by `eps` when the norm is smaller (PyTorch's
/// `F.normalize(x, dim=1)`: a zero row stays zero instead of becoming 0 / 0).
public func l2NormalizedRows(_ x: Tensor, eps: Float = 1e-12) -> Tensor {
  precondition(x.shape.rank == 2, "l2NormalizedRows: input \(x.shape) is not [N, D]")
  let xp = x.layout == .plain ? x : x.toLayout(.plain)
  let (n, d) = (x.shape[0], x.shape[1])
  let out = Tensor(uninitialized: xp.shape)
  var norms = [Float](repeating: 0, count: n)
  for i in 0..<n {
    let r = Elementwise.sumOfSquares(xp.pointer + i * d, d).squareRoot()
    norms[i] = max(r, eps)
    Elementwise.scale(xp.pointer + i * d, 1 / norms[i], out.pointer + i * d, d)
  }
  let y = out.detached()
  return record("l2NormalizedRows", out, [xp]) { g in
    let gp = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    let r = Tensor(uninitialized: xp.shape)
    for i in 0..<n {
      let (gi, yi, ri) = (gp.pointer + i * d, y.pointer + i * d, r.pointer + i * d)
      if norms[i] > eps {
        // d(x/‖x‖) = (g − (g·y) y) / ‖x‖: the radial part of g has no effect on a unit vector.
        var dot: Float = 0
        for t in 0..<d { dot += gi[t] * yi[t] }
        for t in 0..<d { ri[t] = (gi[t] - dot * yi[t]) / norms[i] }
      } else {
        // Below eps the op is x / eps, linear.
        Elementwise.scale(gi, 1 / eps, ri, d)
      }
    }
    return [r]
  }
}
