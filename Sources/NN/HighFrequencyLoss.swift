import Tensor

/// Mean squared high-pass residual of `prediction − target` ([N, C, H, W]): the residual is the
/// difference minus its 3×3 box blur with circular padding, so the loss is the reconstruction error
/// weighted per frequency by |1 − box(f)|², close to 0 at DC and 16/9 at the Nyquist corner.
///
/// Plain MSE weighs every frequency alike, so a small generator trained on it learns to blur (its
/// residual energy ends far below a real generator's); adding this term makes it keep the high
/// frequencies. Circular padding makes the high-pass a symmetric operator, so its transpose (the
/// backward pass) is the same filter.
public func highFrequencyMSELoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
  precondition(
    prediction.shape == target.shape && prediction.shape.rank == 4,
    "highFrequencyMSELoss: prediction \(prediction.shape) and target \(target.shape) must be the same [N, C, H, W]")
  let p = prediction.layout == .plain ? prediction : prediction.toLayout(.plain)
  let t = target.layout == .plain ? target : target.toLayout(.plain)
  let (planes, h, w) = (p.shape[0] * p.shape[1], p.shape[2], p.shape[3])
  let n = p.count
  let diff = Tensor(uninitialized: p.shape)
  Elementwise.sub(p.pointer, t.pointer, diff.pointer, n)
  let residual = Tensor(uninitialized: p.shape)
  circularHighPass(diff.pointer, residual.pointer, planes: planes, height: h, width: w)
  let value = Elementwise.sumOfSquares(residual.pointer, n) / Float(n)
  let out = Tensor([value], shape: [1])
  return differentiable("highFrequencyMSELoss", output: out, inputs: [p, t]) { g in
    let gp = Tensor(uninitialized: p.shape)
    circularHighPass(residual.pointer, gp.pointer, planes: planes, height: h, width: w)
    Elementwise.scale(gp.pointer, 2 * g.item / Float(n), gp.pointer, n)
    var gt: Tensor? = nil
    if t.requiresGrad {
      let r = Tensor(uninitialized: t.shape)
      Elementwise.scale(gp.pointer, -1, r.pointer, n)
      gt = r
    }
    return [gp, gt]
  }
}

/// `out = x − box3×3(x)` per plane, circular padding.
func circularHighPass(
  _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, planes: Int, height h: Int, width w: Int
) {
  for c in 0..<planes {
    let src = x + c * h * w
    let dst = out + c * h * w
    for i in 0..<h {
      let rows = [(i + h - 1) % h, i, (i + 1) % h]
      for j in 0..<w {
        let cols = [(j + w - 1) % w, j, (j + 1) % w]
        var s: Float = 0
        for r in rows { for q in cols { s += src[r * w + q] } }
        dst[i * w + j] = src[i * w + j] - s / 9
      }
    }
  }
}
