import CDNNL

// Pooling and ×2 resampling through oneDNN; outputs keep their input's layout and gradients come
// back in the input's layout.
//
// Shapes: x [N, C, H, W]. Average and max pooling follow PyTorch's floor mode (average counts the
// zero padding, PyTorch's count_include_pad=True). Resampling follows PyTorch's
// `F.interpolate(scale_factor: 2, align_corners: false)` for "nearest" and "bilinear".

enum SpatialOp: Hashable, CustomStringConvertible {
  case pool(max: Bool, kernel: [Int], stride: [Int], padding: [Int])
  case resample(linear: Bool, factor: Float)

  var description: String {
    switch self {
    case .pool(let max, let k, let s, let p): return "pool|\(max ? "max" : "avg")|k\(k)|s\(s)|p\(p)"
    case .resample(let linear, let f): return "resample|\(linear ? "linear" : "nearest")|\(f)"
    }
  }

  func outputDims(_ d: [Int]) -> [Int] {
    switch self {
    case .pool(_, let k, let s, let p):
      return [d[0], d[1], (d[2] + 2 * p[0] - k[0]) / s[0] + 1, (d[3] + 2 * p[1] - k[1]) / s[1] + 1]
    case .resample(_, let f):
      return [d[0], d[1], Int((Float(d[2]) * f).rounded(.down)), Int((Float(d[3]) * f).rounded(.down))]
    }
  }

  func initDesc(
    _ desc: UnsafeMutableRawPointer, src: inout dnnl_memory_desc_t, dst: inout dnnl_memory_desc_t,
    inDims: [Int], backward: Bool, training: Bool
  ) {
    switch self {
    case .pool(let max, let k, let s, let p):
      var strides = DNNL.dims(s)
      var kernel = DNNL.dims(k)
      var dilation = DNNL.dims([0, 0])
      var pl = DNNL.dims(p)
      let out = outputDims(inDims)
      var pr = DNNL.dims([(out[2] - 1) * s[0] + k[0] - inDims[2] - p[0], (out[3] - 1) * s[1] + k[1] - inDims[3] - p[1]])
      let alg = max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding
      let d = desc.assumingMemoryBound(to: dnnl_pooling_v2_desc_t.self)
      if backward {
        DNNL.check(
          dnnl_pooling_v2_backward_desc_init(d, alg, &src, &dst, &strides, &kernel, &dilation, &pl, &pr),
          "pool bwd desc")
      } else {
        DNNL.check(
          dnnl_pooling_v2_forward_desc_init(
            d, training ? dnnl_forward_training : dnnl_forward_inference,
            alg, &src, &dst, &strides, &kernel, &dilation, &pl, &pr), "pool fwd desc")
      }
    case .resample(let linear, let f):
      var factors: [Float] = [f, f]
      let alg = linear ? dnnl_resampling_linear : dnnl_resampling_nearest
      let d = desc.assumingMemoryBound(to: dnnl_resampling_desc_t.self)
      if backward {
        DNNL.check(dnnl_resampling_backward_desc_init(d, alg, &factors, &src, &dst), "resample bwd desc")
      } else {
        DNNL.check(
          dnnl_resampling_forward_desc_init(
            d, training ? dnnl_forward_training : dnnl_forward_inference,
            alg, &factors, &src, &dst), "resample fwd desc")
      }
    }
  }

  var isMaxPool: Bool { if case .pool(true, _, _, _) = self { return true } else { return false } }
}

/// Storage big enough for the largest op descriptor.
private struct DescStorage {
  var bytes = [UInt8](repeating: 0, count: 8192)
}

private func spatialPrimitive(_ op: SpatialOp, _ x: Tensor, training: Bool) -> Primitive {
  let key = "\(op)|fwd|\(x.shape.dims)|\(x.layout)|t\(training)"
  return DNNLContext.primitive(key) {
    let outDims = op.outputDims(x.shape.dims)
    func make(_ dstMD: dnnl_memory_desc_t) -> Primitive {
      var storage = DescStorage()
      var src = DNNL.md(x.shape.dims, x.layout)
      var dst = dstMD
      return storage.bytes.withUnsafeMutableBytes { raw in
        op.initDesc(raw.baseAddress!, src: &src, dst: &dst, inDims: x.shape.dims, backward: false, training: training)
        return Primitive(desc: raw.baseAddress!, what: "\(op)")
      }
    }
    var p = make(DNNL.anyMD(outDims))
    var layout = DNNL.layout(of: DNNL.query(p.pd, dnnl_query_dst_md), shape: outDims)
    if layout == nil {
      p = make(DNNL.md(outDims, x.layout))
      layout = x.layout
    }
    p.layouts["dst"] = layout
    if op.isMaxPool && training { p.mds["workspace"] = DNNL.query(p.pd, dnnl_query_workspace_md) }
    return p
  }
}

func spatial(_ op: SpatialOp, _ x: Tensor) -> Tensor {
  precondition(x.shape.rank == 4, "\(op) expects [N, C, H, W], got \(x.shape)")
  let training = isGradEnabled && x.requiresGrad
  let p = spatialPrimitive(op, x, training: training)
  let outDims = op.outputDims(x.shape.dims)
  precondition(outDims[2] > 0 && outDims[3] > 0, "\(op): output would be empty for input \(x.shape)")
  let layout = p.layouts["dst"]!
  let out = Tensor(uninitialized: Shape(outDims), layout: layout)
  var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
    (DNNL_ARG_SRC, DNNL.md(x.shape.dims, x.layout), UnsafeMutableRawPointer(x.pointer)),
    (DNNL_ARG_DST, DNNL.md(outDims, layout), UnsafeMutableRawPointer(out.pointer)),
  ]
  var workspace: OpaqueBuffer? = nil
  if let wmd = p.mds["workspace"] {
    workspace = OpaqueBuffer(md: wmd)
    args.append((DNNL_ARG_WORKSPACE, wmd, workspace!.pointer))
  }
  p.execute(args)
  return record("\(op)", out, [x]) { g in
    let key = "\(op)|bwd|\(x.shape.dims)|\(x.layout)|\(g.layout)"
    let bp = DNNLContext.primitive(key) {
      var storage = DescStorage()
      var src = DNNL.md(x.shape.dims, x.layout)
      var dst = DNNL.md(outDims, g.layout)
      return storage.bytes.withUnsafeMutableBytes { raw in
        op.initDesc(raw.baseAddress!, src: &src, dst: &dst, inDims: x.shape.dims, backward: true, training: true)
        return Primitive(desc: raw.baseAddress!, hint: p.pd, what: "\(op) bwd")
      }
    }
    let gx = Tensor(uninitialized: x.shape, layout: x.layout)
    var bargs: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
      (DNNL_ARG_DIFF_DST, DNNL.md(outDims, g.layout), UnsafeMutableRawPointer(g.pointer)),
      (DNNL_ARG_DIFF_SRC, DNNL.md(x.shape.dims, x.layout), UnsafeMutableRawPointer(gx.pointer)),
    ]
    if let workspace { bargs.append((DNNL_ARG_WORKSPACE, workspace.md, workspace.pointer)) }
    bp.execute(bargs)
    return [gx]
  }
}

/// Average pooling (PyTorch's `AvgPool2d(kernel, stride, padding)`, count_include_pad).
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
  let s = stride ?? kernel
  if kernel == 2 && s == 2 && padding == 0 && x.layout == .plain && x.shape.rank == 4 && x.shape[2] >= 2
    && x.shape[3] >= 2
  {
    return avgPool2x2Plain(x)
  }
  return spatial(.pool(max: false, kernel: [kernel, kernel], stride: [s, s], padding: [padding, padding]), x)
}

/// Max pooling (PyTorch's `MaxPool2d(kernel, stride, padding)`).
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
  let s = stride ?? kernel
  return spatial(.pool(max: true, kernel: [kernel, kernel], stride: [s, s], padding: [padding, padding]), x)
}

/// Global average pooling: [N, C, H, W] → plain [N, C].
public func globalAvgPool(_ x: Tensor) -> Tensor {
  precondition(x.shape.rank == 4, "globalAvgPool expects [N, C, H, W], got \(x.shape)")
  let h = x.shape[2]
  let w = x.shape[3]
  let pooled = spatial(.pool(max: false, kernel: [h, w], stride: [h, w], padding: [0, 0]), x)
  // With 1×1 spatial size every supported layout has plain [N, C] order.
  return flattenSpatialOne(pooled)
}

/// [N, C, 1, 1] in any layout → plain [N, C], sharing memory.
func flattenSpatialOne(_ x: Tensor) -> Tensor {
  precondition(x.shape[2] == 1 && x.shape[3] == 1, "flattenSpatialOne needs 1×1 spatial size, got \(x.shape)")
  let out = Tensor(shape: Shape([x.shape[0], x.shape[1]]), layout: .plain, storage: x.storage, offset: x.offset)
  let layout = x.layout
  return record("flatten", out, [x]) { g in
    [Tensor(shape: x.shape, layout: layout, storage: g.storage, offset: g.offset)]
  }
}

/// A plain tensor viewed with another shape of the same count, sharing memory.
func reshapeOp(_ x: Tensor, _ shape: Shape) -> Tensor {
  precondition(x.layout == .plain, "reshape needs a plain tensor, got \(x.layout)")
  let out = Tensor(shape: shape, layout: .plain, storage: x.storage, offset: x.offset)
  return record("reshape", out, [x]) { g in
    let gp = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    return [Tensor(shape: x.shape, layout: .plain, storage: gp.storage, offset: gp.offset)]
  }
}

/// 2 × 2 average pooling with stride 2 on a plain NCHW tensor (floor mode: an odd last row or column
/// is left out). oneDNN has only a generic kernel for plain layouts (3.3 ms for 16 × 3 × 128², about
/// 5 times this one), and few-channel images, the input of every synthetic model, stay plain.
func avgPool2x2Plain(_ x: Tensor) -> Tensor {
  let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  let (oh, ow) = (h / 2, w / 2)
  let out = Tensor(uninitialized: [n, c, oh, ow])
  let (src, dst) = (x.pointer, out.pointer)
  Threads.ranges(n * c, work: n * c * h * w, minimumWork: 1 << 16) { planes in
    for plane in planes {
      for oy in 0..<oh {
        let r0 = src + (plane * h + 2 * oy) * w
        let r1 = r0 + w
        let o = dst + (plane * oh + oy) * ow
        var ox = 0
        // 16 inputs of each row give 8 outputs. The sum runs in the window's row-major order, as
        // oneDNN's and PyTorch's kernels add: a different rounding, amplified by a training-mode
        // batch norm over a near-constant channel, moves gradients by percents.
        while ox + 8 <= ow {
          let a = UnsafeRawPointer(r0 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
          let b = UnsafeRawPointer(r1 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
          let sum = a.evenHalf + a.oddHalf + b.evenHalf + b.oddHalf
          UnsafeMutableRawPointer(o + ox).storeBytes(of: sum * 0.25, as: SIMD8<Float>.self)
          ox += 8
        }
        while ox < ow {
          o[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * 0.25
          ox += 1
        }
      }
    }
  }
  return record("avgPool2x2", out, [x]) { g in
    let gp = g.layout == .plain ? g : g.toLayout(.plain, differentiable: false)
    let gx = Tensor.zeros(x.shape)
    let (gs, gd) = (gp.pointer, gx.pointer)
    Threads.ranges(n * c, work: n * c * h * w, minimumWork: 1 << 16) { planes in
      for plane in planes {
        for oy in 0..<oh {
          let o = gs + (plane * oh + oy) * ow
          let r0 = gd + (plane * h + 2 * oy) * w
          let r1 = r0 + w
          for ox in 0..<ow {
            let v = o[ox] * 0.25
            r0[2 * ox] = v
            r0[2 * ox + 1] = v
            r1[2 * ox] = v
            r1[2 * ox + 1] = v
          }
        }
      }
    }
    return [gx]
  }
}
