// residual = x − box3(x): a 3×3 mean filter with reflect padding, per channel.
//
// Shapes: [N, C, H, W] in and out (H, W ≥ 2, as reflect padding by one needs). Matches the reference
// method's `F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)`; reflect mirrors without
// repeating the edge (index −1 reads 1, index n reads n − 2). The filter runs separably (row sums of
// three, then column sums of three, in Float64); ``ReferenceHighPass`` is the plain 9-tap twin.

import Tensor

/// The fixed high-pass residual: each channel minus its 3×3 box blur (reflect padding).
public struct HighPassResidual: ResidualExtractor, Sendable {
  /// Creates the extractor (it has no parameters).
  public init() {}

  /// x − box3(x) per channel; see ``ResidualExtractor/residual(_:)``. Any channel count works.
  public func residual(_ images: Tensor) -> Tensor {
    let (x, h, w) = Self.checked(images)
    let out = Tensor(uninitialized: x.shape)
    let planes = x.shape[0] * x.shape[1]
    let src = x.pointer
    let dst = out.pointer
    withExtendedLifetime(x) {
      Threads.parallelFor(planes) { p in
        Self.plane(src + p * h * w, dst + p * h * w, height: h, width: w)
      }
    }
    return out
  }

  /// One H×W plane: dst = src − box3(src).
  ///
  /// Sums run in Float64 so the residual is the correctly rounded value: it is small next to the image,
  /// and the log spectrum amplifies its rounding in the weak frequency bins (by up to 255×).
  static func plane(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, height h: Int, width w: Int) {
    // rows[y][x] = src[y][x−1] + src[y][x] + src[y][x+1], reflected at the ends.
    let rows = UnsafeMutablePointer<Double>.allocate(capacity: h * w)
    defer { rows.deallocate() }
    for y in 0..<h {
      let s = src + y * w
      let r = rows + y * w
      r[0] = Double(s[1]) + Double(s[0]) + Double(s[1])
      for x in 1..<(w - 1) { r[x] = Double(s[x - 1]) + Double(s[x]) + Double(s[x + 1]) }
      r[w - 1] = Double(s[w - 2]) + Double(s[w - 1]) + Double(s[w - 2])
    }
    for y in 0..<h {
      let above = rows + reflect(y - 1, h) * w
      let here = rows + y * w
      let below = rows + reflect(y + 1, h) * w
      let s = src + y * w
      let d = dst + y * w
      for x in 0..<w { d[x] = Float(Double(s[x]) - (above[x] + here[x] + below[x]) / 9) }
    }
  }

  /// The plain layout of a valid batch and its plane size; stops with a message on a wrong shape.
  static func checked(_ images: Tensor) -> (Tensor, Int, Int) {
    precondition(images.shape.rank == 4, "high-pass residual needs [N, C, H, W], got \(images.shape)")
    let h = images.shape[2]
    let w = images.shape[3]
    precondition(h >= 2 && w >= 2, "high-pass residual needs H, W ≥ 2 for reflect padding, got \(images.shape)")
    return (images.toLayout(.plain, differentiable: false), h, w)
  }
}

/// Reflect padding's index map for one step outside [0, n).
@inline(__always)
func reflect(_ i: Int, _ n: Int) -> Int {
  i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
}

/// The plain twin of ``HighPassResidual``: nine taps per pixel, summed in Float64.
public enum ReferenceHighPass {
  /// x − box3(x) per channel, [N, C, H, W] → [N, C, H, W] (plain).
  public static func residual(_ images: Tensor) -> Tensor {
    let (x, h, w) = HighPassResidual.checked(images)
    let v = x.array
    var out = [Float](repeating: 0, count: v.count)
    for p in 0..<(x.shape[0] * x.shape[1]) {
      let base = p * h * w
      for y in 0..<h {
        for xx in 0..<w {
          var sum = 0.0
          for dy in -1...1 {
            for dx in -1...1 { sum += Double(v[base + reflect(y + dy, h) * w + reflect(xx + dx, w)]) }
          }
          out[base + y * w + xx] = Float(Double(v[base + y * w + xx]) - sum / 9)
        }
      }
    }
    return Tensor(out, shape: x.shape)
  }
}
