// Plain reference implementations of the oneDNN- and BLAS-backed ops, on row-major NCHW arrays,
// generic over the float type so that gradient checks can evaluate them in Float64. They follow
// PyTorch's definitions and are written for clarity, not speed.

extension Reference {
  /// 2-D convolution: x [n, ci, h, w], weight [co, ci, k, k], bias [co] → [n, co, oh, ow].
  public static func conv2d<T: BinaryFloatingPoint>(
    _ x: [T], n: Int, ci: Int, h: Int, w: Int, weight: [T], co: Int, k: Int, bias: [T]?, stride: Int, padding: Int
  ) -> [T] {
    let oh = (h + 2 * padding - k) / stride + 1
    let ow = (w + 2 * padding - k) / stride + 1
    var out = [T](repeating: 0, count: n * co * oh * ow)
    for b in 0..<n {
      for o in 0..<co {
        for oy in 0..<oh {
          for ox in 0..<ow {
            var s: T = bias?[o] ?? 0
            for i in 0..<ci {
              for ky in 0..<k {
                let iy = oy * stride - padding + ky
                guard iy >= 0 && iy < h else { continue }
                for kx in 0..<k {
                  let ix = ox * stride - padding + kx
                  guard ix >= 0 && ix < w else { continue }
                  s += x[((b * ci + i) * h + iy) * w + ix] * weight[((o * ci + i) * k + ky) * k + kx]
                }
              }
            }
            out[((b * co + o) * oh + oy) * ow + ox] = s
          }
        }
      }
    }
    return out
  }

  /// Transposed convolution: x [n, ci, h, w], weight [ci, co, k, k] → [n, co, oh, ow] with
  /// oh = (h − 1)·stride − 2·padding + k + outputPadding.
  public static func convTranspose2d<T: BinaryFloatingPoint>(
    _ x: [T], n: Int, ci: Int, h: Int, w: Int, weight: [T], co: Int, k: Int, bias: [T]?, stride: Int, padding: Int,
    outputPadding: Int
  ) -> [T] {
    let oh = (h - 1) * stride - 2 * padding + k + outputPadding
    let ow = (w - 1) * stride - 2 * padding + k + outputPadding
    var out = [T](repeating: 0, count: n * co * oh * ow)
    for b in 0..<n {
      for o in 0..<co {
        for oy in 0..<oh { for ox in 0..<ow { out[((b * co + o) * oh + oy) * ow + ox] = bias?[o] ?? 0 } }
      }
      for i in 0..<ci {
        for iy in 0..<h {
          for ix in 0..<w {
            let v = x[((b * ci + i) * h + iy) * w + ix]
            for o in 0..<co {
              for ky in 0..<k {
                let oy = iy * stride - padding + ky
                guard oy >= 0 && oy < oh else { continue }
                for kx in 0..<k {
                  let ox = ix * stride - padding + kx
                  guard ox >= 0 && ox < ow else { continue }
                  out[((b * co + o) * oh + oy) * ow + ox] += v * weight[((i * co + o) * k + ky) * k + kx]
                }
              }
            }
          }
        }
      }
    }
    return out
  }

  /// Batch normalization with batch statistics (biased variance), optional affine.
  public static func batchNorm<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, c: Int, hw: Int, weight: [T]?, bias: [T]?, eps: T
  ) -> [T] {
    var out = x
    let m = T(n * hw)
    for ch in 0..<c {
      var mean: T = 0
      for b in 0..<n { for i in 0..<hw { mean += x[(b * c + ch) * hw + i] } }
      mean /= m
      var variance: T = 0
      for b in 0..<n {
        for i in 0..<hw {
          let d = x[(b * c + ch) * hw + i] - mean
          variance += d * d
        }
      }
      variance /= m
      let inv = 1 / T.sqrtShim(variance + eps)
      for b in 0..<n {
        for i in 0..<hw {
          let j = (b * c + ch) * hw + i
          out[j] = (x[j] - mean) * inv * (weight?[ch] ?? 1) + (bias?[ch] ?? 0)
        }
      }
    }
    return out
  }

  /// Batch normalization with given statistics (eval mode).
  public static func batchNormEval<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, c: Int, hw: Int, weight: [T], bias: [T], mean: [T], variance: [T], eps: T
  ) -> [T] {
    var out = x
    for b in 0..<n {
      for ch in 0..<c {
        let inv = 1 / T.sqrtShim(variance[ch] + eps)
        for i in 0..<hw {
          let j = (b * c + ch) * hw + i
          out[j] = (x[j] - mean[ch]) * inv * weight[ch] + bias[ch]
        }
      }
    }
    return out
  }

  /// Instance normalization without affine: batch norm of one sample with N·C channels.
  public static func instanceNorm<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, c: Int, hw: Int, eps: T
  ) -> [T] {
    batchNorm(x, n: 1, c: n * c, hw: hw, weight: nil, bias: nil, eps: eps)
  }

  /// Average (count_include_pad) or max pooling, floor mode.
  public static func pool2d<T: BinaryFloatingPoint>(
    _ x: [T], n: Int, c: Int, h: Int, w: Int, kernel k: Int, stride s: Int, padding p: Int, max: Bool
  ) -> [T] {
    let oh = (h + 2 * p - k) / s + 1
    let ow = (w + 2 * p - k) / s + 1
    var out = [T](repeating: 0, count: n * c * oh * ow)
    for plane in 0..<(n * c) {
      for oy in 0..<oh {
        for ox in 0..<ow {
          var acc: T = max ? -T.greatestFiniteMagnitude : 0
          for ky in 0..<k {
            for kx in 0..<k {
              let iy = oy * s - p + ky
              let ix = ox * s - p + kx
              guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
              let v = x[(plane * h + iy) * w + ix]
              acc = max ? Swift.max(acc, v) : acc + v
            }
          }
          out[(plane * oh + oy) * ow + ox] = max ? acc : acc / T(k * k)
        }
      }
    }
    return out
  }

  /// Global average pooling [n, c, h, w] → [n, c].
  public static func globalAvgPool<T: BinaryFloatingPoint>(_ x: [T], n: Int, c: Int, hw: Int) -> [T] {
    (0..<(n * c)).map { p in x[(p * hw)..<((p + 1) * hw)].reduce(0, +) / T(hw) }
  }

  /// y = x·Wᵀ + b: x [n, k], weight [m, k], bias [m] → [n, m].
  public static func linear<T: BinaryFloatingPoint>(_ x: [T], n: Int, k: Int, weight: [T], m: Int, bias: [T]?) -> [T] {
    var out = [T](repeating: 0, count: n * m)
    for i in 0..<n {
      for j in 0..<m {
        var s: T = bias?[j] ?? 0
        for t in 0..<k { s += x[i * k + t] * weight[j * k + t] }
        out[i * m + j] = s
      }
    }
    return out
  }

  /// Row-wise L2 normalisation of [n, d] (``l2NormalizedRows``): each row over max(‖row‖, eps).
  public static func l2NormalizedRows<T: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _ x: [T], n: Int, d: Int, eps: T = 1e-12
  ) -> [T] {
    var out = x
    for i in 0..<n {
      let norm = max(T.sqrtShim(x[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }), eps)
      for t in 0..<d { out[i * d + t] = x[i * d + t] / norm }
    }
    return out
  }

  /// Row-wise log-softmax of [n, c].
  public static func logSoftmax<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ x: [T], n: Int, c: Int) -> [T] {
    var out = x
    for i in 0..<n {
      let row = x[(i * c)..<((i + 1) * c)]
      let m = row.max()!
      let lse = m + T.logShim(row.reduce(0) { $0 + T.expShim($1 - m) })
      for j in 0..<c { out[i * c + j] = x[i * c + j] - lse }
    }
    return out
  }
}
