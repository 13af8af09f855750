// Group normalization (Wu & He 2018; PyTorch's `F.group_norm`), the norm of latent-diffusion and most
// diffusion U-Nets. Layer normalization over (C, H, W) with a per-channel affine is its one-group case.
//
// Shapes: x [N, C, H, W] (any layout; computed in plain NCHW, where a group's C/G channels are one
// contiguous block of (C/G)·H·W values), weight and bias [C], groups G dividing C.
//   y = (x − μ_ng)/√(σ²_ng + ε)·γ_c + β_c, μ and σ² (biased) over the group's channels and pixels.
// Backward, with x̂ the normalised input and ĝ = g·γ_c, per group of m values:
//   dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/√(σ² + ε),  dγ_c = Σ_{n,h,w} g·x̂,  dβ_c = Σ_{n,h,w} g.
// oneDNN 2.6 has layer and batch norm but no group norm over NCHW blocks, so this is a Swift kernel;
// the variance is a second pass over the block (no cancellation from E[x²] − E[x]²).

/// Group normalization with affine parameters.
///
/// - Parameters:
///   - x: [N, C, H, W].
///   - groups: G, a divisor of C.
///   - weight: γ [C]; bias: β [C].
/// - Returns: the normalised tensor, in `x`'s layout.
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
  precondition(x.shape.rank == 4, "groupNorm expects [N, C, H, W], got \(x.shape)")
  let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
  precondition(groups >= 1 && c % groups == 0, "groupNorm: \(groups) groups do not divide \(c) channels of \(x.shape)")
  precondition(
    weight.shape.dims == [c] && bias.shape.dims == [c],
    "groupNorm: weight \(weight.shape) and bias \(bias.shape) must be [\(c)] for \(x.shape)")
  let src = x.layout == .plain ? x : x.toLayout(.plain)
  let per = c / groups
  let m = per * hw
  let xhat = Tensor(uninitialized: x.shape)
  let out = Tensor(uninitialized: x.shape)
  var rstd = [Float](repeating: 0, count: n * groups)
  let (xp, hp, op, wp, bp) = (src.pointer, xhat.pointer, out.pointer, weight.pointer, bias.pointer)
  rstd.withUnsafeMutableBufferPointer { rs in
    let rs = rs.baseAddress!
    Threads.parallelFor(n * groups) { ng in
      let base = ng * m
      let mean = Elementwise.sum(xp + base, m) / Float(m)
      var ss: Float = 0
      for i in 0..<m {
        let d = xp[base + i] - mean
        ss += d * d
      }
      let r = 1 / (ss / Float(m) + eps).squareRoot()
      rs[ng] = r
      for j in 0..<per {
        let ch = (ng % groups) * per + j
        let (gamma, beta) = (wp[ch], bp[ch])
        for i in (base + j * hw)..<(base + (j + 1) * hw) {
          let h = (xp[i] - mean) * r
          hp[i] = h
          op[i] = h * gamma + beta
        }
      }
    }
  }
  let y = record("groupNorm", out, [src, weight, bias]) { g in
    let g = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    let gx = Tensor(uninitialized: xhat.shape)
    let gw = Tensor.zeros([c])
    let gb = Tensor.zeros([c])
    let (gp, gxp, gwp, gbp) = (g.pointer, gx.pointer, gw.pointer, gb.pointer)
    // Per (sample, group) the input gradient; γ's and β's sums per channel afterwards, in one thread,
    // so no two threads write one channel.
    Threads.parallelFor(n * groups) { ng in
      let base = ng * m
      var sg: Float = 0
      var sgh: Float = 0
      for j in 0..<per {
        let gamma = wp[(ng % groups) * per + j]
        for i in (base + j * hw)..<(base + (j + 1) * hw) {
          let gh = gp[i] * gamma
          sg += gh
          sgh += gh * hp[i]
        }
      }
      let (mg, mgh, r) = (sg / Float(m), sgh / Float(m), rstd[ng])
      for j in 0..<per {
        let gamma = wp[(ng % groups) * per + j]
        for i in (base + j * hw)..<(base + (j + 1) * hw) { gxp[i] = (gp[i] * gamma - mg - hp[i] * mgh) * r }
      }
    }
    for b in 0..<n {
      for ch in 0..<c {
        let o = (b * c + ch) * hw
        var sw: Float = 0
        var sb: Float = 0
        for i in o..<(o + hw) {
          sw += gp[i] * hp[i]
          sb += gp[i]
        }
        gwp[ch] += sw
        gbp[ch] += sb
      }
    }
    return [gx, gw, gb]
  }
  return x.layout == .plain ? y : y.toLayout(x.layout)
}

extension Reference {
  /// Group normalization on NCHW arrays: x [n, c, hw], weight and bias [c], `groups` dividing c.
  public static func groupNorm<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, c: Int, hw: Int, groups: Int, weight: [T], bias: [T], eps: T
  ) -> [T] {
    var out = x
    let per = c / groups
    let m = per * hw
    for b in 0..<n {
      for g in 0..<groups {
        let lo = (b * c + g * per) * hw
        let block = x[lo..<(lo + m)]
        let mean = block.reduce(0, +) / T(m)
        let variance = block.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / T(m)
        let inv = 1 / T.sqrtShim(variance + eps)
        for j in 0..<m {
          let ch = g * per + j / hw
          out[lo + j] = (x[lo + j] - mean) * inv * weight[ch] + bias[ch]
        }
      }
    }
    return out
  }
}
