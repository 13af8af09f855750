// ×2 upsampling kernels (nearest and bilinear with PyTorch's align_corners=False), forward and
// backward, over any supported layout.
//
// Every supported layout is a stack of planes of H × W pixels with `cb` channels innermost:
// plain NCHW (planes N·C, cb 1), nChw8c/nChw16c (planes N·C/cb, cb 8 or 16), nhwc (planes N, cb C).
// Bilinear ×2 is separable; along one axis of length n, with s = o/2 − 1/4 clamped at 0:
//   out[2i]   = ¼·in[i−1] + ¾·in[i]   (out[0] = in[0])
//   out[2i+1] = ¾·in[i]   + ¼·in[i+1] (out[2n−1] = in[n−1])
// The backward pass applies the transposed weights. `ReferenceResample` computes PyTorch's general
// formula on NCHW arrays.

/// The plane view of a 4-D tensor's layout.
struct PlaneView {
  let planes: Int
  let height: Int
  let width: Int
  let cb: Int

  init(_ shape: Shape, _ layout: Layout) {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
    switch layout {
    case .plain: (planes, cb) = (n * c, 1)
    case .nChw8c: (planes, cb) = (n * c / 8, 8)
    case .nChw16c: (planes, cb) = (n * c / 16, 16)
    case .nhwc: (planes, cb) = (n, c)
    }
    height = h
    width = w
  }

  var planeSize: Int { height * width * cb }
  var rowSize: Int { width * cb }
}

/// The fast ×2 resampling kernels.
enum ResampleKernels {
  /// Horizontal ×2 bilinear of one row whose pixels are one SIMD vector each (blocked layouts).
  @inline(__always)
  static func bilinearRowVector<V: SIMD>(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ w: Int,
    _: V.Type
  ) where V.Scalar == Float {
    let s = UnsafeRawPointer(src)
    let d = UnsafeMutableRawPointer(dst)
    let size = MemoryLayout<V>.size
    var left = s.loadUnaligned(as: V.self)
    var mid = left
    for x in 0..<w {
      let right = x + 1 < w ? s.loadUnaligned(fromByteOffset: (x + 1) * size, as: V.self) : mid
      let d0 = x == 0 ? mid : 0.25 * left + 0.75 * mid
      let d1 = x == w - 1 ? mid : 0.75 * mid + 0.25 * right
      d.storeBytes(of: d0, toByteOffset: 2 * x * size, as: V.self)
      d.storeBytes(of: d1, toByteOffset: (2 * x + 1) * size, as: V.self)
      left = mid
      mid = right
    }
  }

  /// Horizontal ×2 bilinear of one row, dispatching on the channel block.
  @inline(__always)
  static func bilinearRowAny(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ w: Int, _ cb: Int) {
    switch cb {
    case 8: bilinearRowVector(src, dst, w, SIMD8<Float>.self)
    case 16: bilinearRowVector(src, dst, w, SIMD16<Float>.self)
    default: bilinearRow(src, dst, w, cb)
    }
  }

  /// Horizontal ×2 bilinear of one row: `src` has `w` pixels of `cb` channels, `dst` 2w.
  @inline(__always)
  static func bilinearRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ w: Int, _ cb: Int) {
    for x in 0..<w {
      let left = src + max(x - 1, 0) * cb
      let mid = src + x * cb
      let right = src + min(x + 1, w - 1) * cb
      let d0 = dst + 2 * x * cb
      let d1 = d0 + cb
      if x == 0 {
        for c in 0..<cb { d0[c] = mid[c] }
      } else {
        for c in 0..<cb { d0[c] = 0.25 * left[c] + 0.75 * mid[c] }
      }
      if x == w - 1 {
        for c in 0..<cb { d1[c] = mid[c] }
      } else {
        for c in 0..<cb { d1[c] = 0.75 * mid[c] + 0.25 * right[c] }
      }
    }
  }

  /// Transposed horizontal ×2 bilinear: `g` has 2w pixels, `dst` (w pixels) receives the sums.
  @inline(__always)
  static func bilinearRowBackward(_ g: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ w: Int, _ cb: Int) {
    for x in 0..<w {
      let d = dst + x * cb
      let g0 = g + 2 * x * cb
      let g1 = g0 + cb
      let w0: Float = x == 0 ? 1 : 0.75
      let w1: Float = x == w - 1 ? 1 : 0.75
      for c in 0..<cb { d[c] = w0 * g0[c] + w1 * g1[c] }
      if x > 0 {
        let gl = g0 - cb
        for c in 0..<cb { d[c] += 0.25 * gl[c] }
      }
      if x < w - 1 {
        let gr = g1 + cb
        for c in 0..<cb { d[c] += 0.25 * gr[c] }
      }
    }
  }

  static func bilinearForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ v: PlaneView) {
    let (h, w, cb) = (v.height, v.width, v.cb)
    let inRow = v.rowSize
    let outRow = 2 * inRow
    Threads.parallelFor(v.planes) { p in
      let src = x + p * v.planeSize
      let dst = y + p * 4 * v.planeSize
      let tmp = UnsafeMutablePointer<Float>.allocate(capacity: inRow)
      defer { tmp.deallocate() }
      for oy in 0..<(2 * h) {
        let i = oy / 2
        let (a, b, wa, wb): (Int, Int, Float, Float)
        if oy % 2 == 0 {
          (a, b, wa, wb) = i == 0 ? (0, 0, 1, 0) : (i - 1, i, 0.25, 0.75)
        } else {
          (a, b, wa, wb) = i == h - 1 ? (i, i, 1, 0) : (i, i + 1, 0.75, 0.25)
        }
        let ra = src + a * inRow
        let rb = src + b * inRow
        for k in 0..<inRow { tmp[k] = wa * ra[k] + wb * rb[k] }
        bilinearRowAny(tmp, dst + oy * outRow, w, cb)
      }
    }
  }

  static func bilinearBackward(_ g: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ v: PlaneView) {
    let (h, w, cb) = (v.height, v.width, v.cb)
    let inRow = v.rowSize
    let outRow = 2 * inRow
    Threads.parallelFor(v.planes) { p in
      let src = g + p * 4 * v.planeSize
      let dst = gx + p * v.planeSize
      // Horizontal transpose of every output row, then the vertical transpose.
      let rows = UnsafeMutablePointer<Float>.allocate(capacity: 2 * h * inRow)
      defer { rows.deallocate() }
      for oy in 0..<(2 * h) { bilinearRowBackward(src + oy * outRow, rows + oy * inRow, w, cb) }
      for y in 0..<h {
        let d = dst + y * inRow
        let r0 = rows + 2 * y * inRow
        let r1 = r0 + inRow
        let w0: Float = y == 0 ? 1 : 0.75
        let w1: Float = y == h - 1 ? 1 : 0.75
        for k in 0..<inRow { d[k] = w0 * r0[k] + w1 * r1[k] }
        if y > 0 {
          let ru = r0 - inRow
          for k in 0..<inRow { d[k] += 0.25 * ru[k] }
        }
        if y < h - 1 {
          let rd = r1 + inRow
          for k in 0..<inRow { d[k] += 0.25 * rd[k] }
        }
      }
    }
  }

  static func nearestForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ v: PlaneView) {
    let (h, w, cb) = (v.height, v.width, v.cb)
    let inRow = v.rowSize
    let outRow = 2 * inRow
    Threads.parallelFor(v.planes) { p in
      let src = x + p * v.planeSize
      let dst = y + p * 4 * v.planeSize
      for iy in 0..<h {
        let s = src + iy * inRow
        let d0 = dst + 2 * iy * outRow
        for ix in 0..<w {
          let sp = s + ix * cb
          let dp = d0 + 2 * ix * cb
          for c in 0..<cb {
            dp[c] = sp[c]
            dp[cb + c] = sp[c]
          }
        }
        (d0 + outRow).update(from: d0, count: outRow)
      }
    }
  }

  static func nearestBackward(_ g: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ v: PlaneView) {
    let (h, w, cb) = (v.height, v.width, v.cb)
    let inRow = v.rowSize
    let outRow = 2 * inRow
    Threads.parallelFor(v.planes) { p in
      let src = g + p * 4 * v.planeSize
      let dst = gx + p * v.planeSize
      for iy in 0..<h {
        let r0 = src + 2 * iy * outRow
        let r1 = r0 + outRow
        let d = dst + iy * inRow
        for ix in 0..<w {
          let a = r0 + 2 * ix * cb
          let b = r1 + 2 * ix * cb
          let dp = d + ix * cb
          for c in 0..<cb { dp[c] = (a[c] + a[cb + c]) + (b[c] + b[cb + c]) }
        }
      }
    }
  }
}

/// Plain reference resampling on NCHW arrays, PyTorch's general formula (`upsample_bilinear2d` with
/// align_corners=False and scale factor `f`; `upsample_nearest2d`), generic for Float64 gradient checks.
public enum ReferenceResample {
  public static func bilinear<T: BinaryFloatingPoint>(_ x: [T], n: Int, c: Int, h: Int, w: Int, factor f: Int) -> [T] {
    let (oh, ow) = (h * f, w * f)
    var out = [T](repeating: 0, count: n * c * oh * ow)
    func source(_ o: Int, _ size: Int) -> (Int, Int, T) {
      let s = max((T(o) + 0.5) / T(f) - 0.5, 0)
      let i0 = min(Int(s), size - 1)
      let i1 = min(i0 + 1, size - 1)
      return (i0, i1, s - T(i0))
    }
    for p in 0..<(n * c) {
      for oy in 0..<oh {
        let (y0, y1, ly) = source(oy, h)
        for ox in 0..<ow {
          let (x0, x1, lx) = source(ox, w)
          let b = p * h * w
          let top = (1 - lx) * x[b + y0 * w + x0] + lx * x[b + y0 * w + x1]
          let bottom = (1 - lx) * x[b + y1 * w + x0] + lx * x[b + y1 * w + x1]
          out[(p * oh + oy) * ow + ox] = (1 - ly) * top + ly * bottom
        }
      }
    }
    return out
  }

  public static func nearest<T: BinaryFloatingPoint>(_ x: [T], n: Int, c: Int, h: Int, w: Int, factor f: Int) -> [T] {
    let (oh, ow) = (h * f, w * f)
    var out = [T](repeating: 0, count: n * c * oh * ow)
    for p in 0..<(n * c) {
      for oy in 0..<oh { for ox in 0..<ow { out[(p * oh + oy) * ow + ox] = x[(p * h + oy / f) * w + ox / f] } }
    }
    return out
  }
}

private func resample(_ x: Tensor, linear: Bool) -> Tensor {
  precondition(x.shape.rank == 4, "upsampling expects [N, C, H, W], got \(x.shape)")
  let v = PlaneView(x.shape, x.layout)
  let out = Tensor(uninitialized: [x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]], layout: x.layout)
  if linear {
    ResampleKernels.bilinearForward(x.pointer, out.pointer, v)
  } else {
    ResampleKernels.nearestForward(x.pointer, out.pointer, v)
  }
  return record(linear ? "upsampleBilinear" : "upsampleNearest", out, [x]) { g in
    let gl = g.layout == x.layout ? g : g.toLayout(x.layout, differentiable: false)
    let gx = Tensor(uninitialized: x.shape, layout: x.layout)
    if linear {
      ResampleKernels.bilinearBackward(gl.pointer, gx.pointer, v)
    } else {
      ResampleKernels.nearestBackward(gl.pointer, gx.pointer, v)
    }
    return [gx]
  }
}

/// Nearest-neighbour upsampling (PyTorch's `mode="nearest"`): ×2 by the engine's kernels, other
/// integer factors through oneDNN.
public func upsampleNearest(_ x: Tensor, factor: Int = 2) -> Tensor {
  factor == 2 ? resample(x, linear: false) : spatial(.resample(linear: false, factor: Float(factor)), x)
}

/// Bilinear upsampling (PyTorch's `mode="bilinear", align_corners=False`): ×2 by the engine's
/// kernels, other integer factors through oneDNN.
public func upsampleBilinear(_ x: Tensor, factor: Int = 2) -> Tensor {
  factor == 2 ? resample(x, linear: true) : spatial(.resample(linear: true, factor: Float(factor)), x)
}
