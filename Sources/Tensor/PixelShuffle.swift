// Pixel shuffle (depth to space; Shi et al. 2016, PyTorch's `F.pixel_shuffle`): the sub-pixel
// upsampling of ESPCN, ESRGAN and many GAN generators, a convolution to r²·C channels followed by this.
//
// Shapes: x [N, C·r², H, W] → y [N, C, H·r, W·r] with
//   y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w].
// A pure permutation: the backward pass is the inverse permutation (space to depth). Computed in plain
// NCHW; the result takes the input's layout where its r²-fold fewer channels still fill that layout's
// blocks, plain otherwise.

/// Rearranges [N, C·r², H, W] into [N, C, H·r, W·r].
public func pixelShuffle(_ x: Tensor, factor r: Int = 2) -> Tensor {
  precondition(x.shape.rank == 4, "pixelShuffle expects [N, C, H, W], got \(x.shape)")
  let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  precondition(
    r >= 1 && cin % (r * r) == 0, "pixelShuffle: \(cin) channels of \(x.shape) are not a multiple of \(r * r)")
  let c = cin / (r * r)
  let src = x.layout == .plain ? x : x.toLayout(.plain)
  let out = Tensor(uninitialized: [n, c, h * r, w * r])
  // One destination plane per (sample, channel); `toSpace` moves x → y, or y → x when false.
  func permute(_ from: UnsafePointer<Float>, _ to: UnsafeMutablePointer<Float>, toSpace: Bool) {
    Threads.parallelFor(n * c) { plane in
      for i in 0..<r {
        for j in 0..<r {
          let s = (plane * r * r + i * r + j) * h * w
          for y in 0..<h {
            for xx in 0..<w {
              let d = (plane * h * r + y * r + i) * w * r + xx * r + j
              if toSpace { to[d] = from[s + y * w + xx] } else { to[s + y * w + xx] = from[d] }
            }
          }
        }
      }
    }
  }
  permute(src.pointer, out.pointer, toSpace: true)
  let y = record("pixelShuffle", out, [src]) { g in
    let g = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    let gx = Tensor(uninitialized: src.shape)
    permute(g.pointer, gx.pointer, toSpace: false)
    return [gx]
  }
  let fits: Bool
  switch x.layout {
  case .plain: fits = false
  case .nhwc: fits = true
  case .nChw8c: fits = c % 8 == 0
  case .nChw16c: fits = c % 16 == 0
  }
  return fits ? y.toLayout(x.layout) : y
}

extension Reference {
  /// Pixel shuffle on NCHW arrays: x [n, c·r², h, w] → [n, c, h·r, w·r].
  public static func pixelShuffle<T: BinaryFloatingPoint>(_ x: [T], n: Int, c: Int, h: Int, w: Int, factor r: Int)
    -> [T]
  {
    var out = [T](repeating: 0, count: x.count)
    for b in 0..<n {
      for ch in 0..<c {
        for oy in 0..<(h * r) {
          for ox in 0..<(w * r) {
            out[((b * c + ch) * h * r + oy) * w * r + ox] =
              x[((b * c * r * r + ch * r * r + (oy % r) * r + ox % r) * h + oy / r) * w + ox / r]
          }
        }
      }
    }
    return out
  }
}
