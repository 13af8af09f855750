// Modulated convolution (StyleGAN2, Karras et al. 2020, §2.2): a per-sample style s scales the
// weight's input channels, and demodulation rescales each output channel to unit expected norm:
//   w′[n,o,i,k] = s[n,i]·w[o,i,k],  d[n,o] = 1/√(Σ_{i,k} w′[n,o,i,k]² + 1e-8),  y = conv(x, w′·d) + b.
// Computed as StyleGAN2's non-fused path, which is the same function: scale the input's channels by
// s, convolve with w, scale the output's channels by d, add b. Only the two channel scalings and the
// demodulation coefficients are new kernels; the convolution is the engine's.
//
// Shapes: x [N, Ci, H, W], weight [Co, Ci, k, k], style [N, Ci], bias [Co] → [N, Co, H′, W′].

/// y[n,c,h,w] = x[n,c,h,w]·scale[n,c] (+ shift[c]): a per-sample channel scaling, plain NCHW.
public func channelAffine(_ x: Tensor, scale: Tensor, shift: Tensor? = nil) -> Tensor {
  precondition(x.shape.rank == 4, "channelAffine expects [N, C, H, W], got \(x.shape)")
  let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
  precondition(scale.shape.dims == [n, c], "channelAffine: scale \(scale.shape) must be [\(n), \(c)] for \(x.shape)")
  precondition(shift == nil || shift!.shape.dims == [c], "channelAffine: shift must be [\(c)]")
  let src = x.layout == .plain ? x : x.toLayout(.plain)
  let out = Tensor(uninitialized: x.shape)
  let (xp, sp, op) = (src.pointer, scale.pointer, out.pointer)
  let bp = shift?.pointer
  Threads.parallelFor(n * c) { p in
    Elementwise.scale(xp + p * hw, sp[p], op + p * hw, hw)
    if let bp { for i in (p * hw)..<((p + 1) * hw) { op[i] += bp[p % c] } }
  }
  let inputs = [src, scale] + (shift.map { [$0] } ?? [])
  return record("channelAffine", out, inputs) { g in
    let g = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    let gx = Tensor(uninitialized: src.shape)
    let gs = Tensor(uninitialized: scale.shape)
    let (gp, gxp, gsp) = (g.pointer, gx.pointer, gs.pointer)
    Threads.parallelFor(n * c) { p in
      Elementwise.scale(gp + p * hw, sp[p], gxp + p * hw, hw)
      var dot: Float = 0
      for i in (p * hw)..<((p + 1) * hw) { dot += gp[i] * xp[i] }
      gsp[p] = dot
    }
    guard shift != nil else { return [gx, gs] }
    let gb = Tensor.zeros([c])
    for p in 0..<(n * c) { gb.pointer[p % c] += Elementwise.sum(gp + p * hw, hw) }
    return [gx, gs, gb]
  }
}

/// StyleGAN2's demodulation coefficients d[n,o] = 1/√(Σ_i s[n,i]²·Σ_k w[o,i,k]² + ε): style [N, Ci],
/// weight [Co, Ci, k, k] → [N, Co]. With q = Σ_i s²·W2 + ε, ∂d/∂q = −d³/2, so
///   ∂/∂s[n,i] = Σ_o ĝ[n,o]·2·s[n,i]·W2[o,i],  ∂/∂w[o,i,k] = Σ_n ĝ[n,o]·2·s[n,i]²·w[o,i,k],  ĝ = −g·d³/2.
public func demodulation(style: Tensor, weight: Tensor, eps: Float = 1e-8) -> Tensor {
  let (n, ci) = (style.shape[0], style.shape[1])
  let (co, kk) = (weight.shape[0], weight.count / (weight.shape[0] * max(weight.shape[1], 1)))
  precondition(
    style.shape.rank == 2 && weight.shape.rank == 4 && weight.shape[1] == ci,
    "demodulation: style \(style.shape) and weight \(weight.shape) do not match ([N, Ci] and [Co, Ci, k, k])")
  let (sp, wp) = (style.pointer, weight.pointer)
  var w2 = [Float](repeating: 0, count: co * ci)
  for j in 0..<(co * ci) { w2[j] = Elementwise.sumOfSquares(wp + j * kk, kk) }
  let out = Tensor(uninitialized: [n, co])
  for b in 0..<n {
    for o in 0..<co {
      var q: Float = eps
      for i in 0..<ci { q += sp[b * ci + i] * sp[b * ci + i] * w2[o * ci + i] }
      out.pointer[b * co + o] = 1 / q.squareRoot()
    }
  }
  let d = out.detached()
  return record("demodulation", out, [style, weight]) { g in
    let gs = Tensor.zeros(style.shape)
    let gw = Tensor(uninitialized: weight.shape)
    var ghat = [Float](repeating: 0, count: n * co)
    for j in 0..<(n * co) { ghat[j] = -0.5 * g.pointer[j] * d.pointer[j] * d.pointer[j] * d.pointer[j] }
    for b in 0..<n {
      for i in 0..<ci {
        var acc: Float = 0
        for o in 0..<co { acc += ghat[b * co + o] * w2[o * ci + i] }
        gs.pointer[b * ci + i] = 2 * sp[b * ci + i] * acc
      }
    }
    for o in 0..<co {
      for i in 0..<ci {
        var acc: Float = 0
        for b in 0..<n { acc += ghat[b * co + o] * sp[b * ci + i] * sp[b * ci + i] }
        Elementwise.scale(wp + (o * ci + i) * kk, 2 * acc, gw.pointer + (o * ci + i) * kk, kk)
      }
    }
    return [gs, gw]
  }
}

/// Modulated, demodulated convolution (StyleGAN2) with stride 1.
public func modulatedConv2d(
  _ x: Tensor, weight: Tensor, style: Tensor, bias: Tensor?, padding: Int, demodulate: Bool = true
) -> Tensor {
  let y = conv2d(channelAffine(x, scale: style), weight: weight, padding: padding)
  let d = demodulate ? demodulation(style: style, weight: weight) : Tensor.full([x.shape[0], weight.shape[0]], 1)
  return channelAffine(y, scale: d, shift: bias)
}

extension Reference {
  /// Modulated convolution by its definition: per sample, the weight scaled by the style and
  /// demodulated, then a plain convolution. x [n, ci, h, w], weight [co, ci, k, k], style [n, ci].
  public static func modulatedConv2d<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, ci: Int, h: Int, w: Int, weight: [T], co: Int, k: Int, style: [T], bias: [T]?, padding: Int,
    demodulate: Bool
  ) -> [T] {
    var out: [T] = []
    let plane = ci * h * w
    for b in 0..<n {
      var wb = weight
      for o in 0..<co {
        for i in 0..<ci { for j in 0..<(k * k) { wb[(o * ci + i) * k * k + j] *= style[b * ci + i] } }
        if demodulate {
          let lo = o * ci * k * k
          let d = 1 / T.sqrtShim(wb[lo..<(lo + ci * k * k)].reduce(0) { $0 + $1 * $1 } + T(1e-8))
          for j in lo..<(lo + ci * k * k) { wb[j] *= d }
        }
      }
      out += conv2d(
        Array(x[(b * plane)..<((b + 1) * plane)]), n: 1, ci: ci, h: h, w: w, weight: wb, co: co, k: k, bias: bias,
        stride: 1, padding: padding)
    }
    return out
  }
}
