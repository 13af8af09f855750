import CDNNL

// Convolution and transposed convolution through oneDNN.
//
// Shapes: x [N, Cin, H, W] in any supported layout; conv weight [Cout, Cin, KH, KW] (PyTorch's
// OIHW), transposed-conv weight [Cin, Cout, KH, KW] (PyTorch's IOHW); bias [Cout]. Weights stay plain
// (the optimizer updates them in place) and are reordered into the layout oneDNN picks for each call.
// The output layout is oneDNN's choice (format `any`) unless that choice is padded, in which case the
// output is plain. Gradients are returned in their inputs' layouts.

/// Geometry of a (transposed) convolution, square kernels and strides.
struct ConvGeometry: Hashable, CustomStringConvertible {
  var transposed: Bool
  var stride: Int
  var padding: Int
  var outputPadding: Int

  var description: String { "\(transposed ? "deconv" : "conv")|s\(stride)|p\(padding)|op\(outputPadding)" }

  /// Multiply-adds × 2 of one pass (forward, data gradient and weight gradient cost the same), with
  /// oneDNN's weight dims [out, in, kh, kw].
  func flops(input: [Int], weight: [Int], output: [Int]) -> Double {
    let pixels = transposed ? input[0] * input[2] * input[3] : output[0] * output[2] * output[3]
    return 2 * Double(pixels) * Double(weight[0] * weight[1] * weight[2] * weight[3])
  }

  func outputSize(_ n: Int, _ k: Int) -> Int {
    transposed ? (n - 1) * stride - 2 * padding + k + outputPadding : (n + 2 * padding - k) / stride + 1
  }
}

/// The plain descriptor of a weight tensor in PyTorch's order.
private func weightMD(_ w: Tensor, _ g: ConvGeometry) -> dnnl_memory_desc_t {
  if !g.transposed { return DNNL.md(w.shape.dims, .plain) }
  // PyTorch stores transposed-conv weights as [in, out, kh, kw]; oneDNN names dims [out, in, kh, kw].
  var md = dnnl_memory_desc_t()
  var d = DNNL.dims([w.shape[1], w.shape[0], w.shape[2], w.shape[3]])
  DNNL.check(dnnl_memory_desc_init_by_tag(&md, 4, &d, dnnl_f32, dnnl_iohw), "iohw md")
  return md
}

private func weightDims(_ w: Tensor, _ g: ConvGeometry) -> [Int] {
  g.transposed ? [w.shape[1], w.shape[0], w.shape[2], w.shape[3]] : w.shape.dims
}

/// An activation fused into a convolution's output (inference only).
public enum PostOp: String, Hashable, Sendable {
  case relu, sigmoid, tanh

  var algorithm: dnnl_alg_kind_t {
    switch self {
    case .relu: return dnnl_eltwise_relu
    case .sigmoid: return dnnl_eltwise_logistic
    case .tanh: return dnnl_eltwise_tanh
    }
  }
}

/// Initialises a forward (de)convolution descriptor and creates its primitive.
func makeForward(
  _ g: ConvGeometry, src: dnnl_memory_desc_t, weights: [Int], bias: Bool, dst: dnnl_memory_desc_t,
  training: Bool, postOp: PostOp?, accumulate: Bool = false
) -> Primitive {
  var desc = dnnl_convolution_desc_t()
  var s = src
  var w = DNNL.anyMD(weights)
  var b = DNNL.anyMD([weights[0]])
  var d = dst
  var strides = DNNL.dims([g.stride, g.stride])
  var pl = DNNL.dims([g.padding, g.padding])
  var pr = DNNL.dims([g.padding - g.outputPadding, g.padding - g.outputPadding])
  let prop = training ? dnnl_forward_training : dnnl_forward_inference
  withOptionalPointer(bias, &b) { bp in
    if g.transposed {
      DNNL.check(
        dnnl_deconvolution_forward_desc_init(
          &desc, prop, dnnl_deconvolution_direct, &s, &w,
          bp, &d, &strides, &pl, &pr), "deconv fwd desc")
    } else {
      DNNL.check(
        dnnl_convolution_forward_desc_init(
          &desc, prop, dnnl_convolution_direct, &s, &w,
          bp, &d, &strides, &pl, &pr), "conv fwd desc")
    }
  }
  guard postOp != nil || accumulate else { return Primitive(desc: &desc, what: "\(g) fwd") }
  var attr: dnnl_primitive_attr_t?
  var ops: dnnl_post_ops_t?
  DNNL.check(dnnl_primitive_attr_create(&attr), "attr_create")
  DNNL.check(dnnl_post_ops_create(&ops), "post_ops_create")
  defer {
    dnnl_post_ops_destroy(ops)
    dnnl_primitive_attr_destroy(attr)
  }
  // sum adds what the output buffer holds before the call (a residual shortcut), then the activation.
  if accumulate { DNNL.check(dnnl_post_ops_append_sum(ops, 1), "post_ops_append_sum") }
  if let postOp {
    DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, postOp.algorithm, 0, 0), "post_ops_append_eltwise")
  }
  DNNL.check(dnnl_primitive_attr_set_post_ops(attr, ops), "attr_set_post_ops")
  return Primitive(desc: &desc, attr: attr, what: "\(g) fwd + post-ops")
}

/// The forward primitive for these shapes. `mds["dst"]` is the output layout oneDNN picked (format
/// `any`); `layouts["dst"]` is the layout of the output tensor: the same when it is a known dense
/// layout, else plain, and the op reorders between the two. Few output channels in a blocked layout are
/// padded (3 → 8): oneDNN's fast kernels need that layout, the rest of the engine needs dense ones.
private func forwardPrimitive(
  _ x: Tensor, _ w: Tensor, bias: Bool, _ g: ConvGeometry, outDims: [Int], training: Bool, postOp: PostOp?,
  accumulate: Bool = false
) -> Primitive {
  let key =
    "\(g)|fwd|\(x.shape.dims)|\(x.layout)|\(w.shape.dims)|b\(bias)|t\(training)|\(LayoutPolicy.allowBlocked)|\(postOp?.rawValue ?? "")|sum\(accumulate)"
  return DNNLContext.primitive(key) {
    let srcMD = DNNL.md(x.shape.dims, x.layout)
    let dstMD = LayoutPolicy.allowBlocked ? DNNL.anyMD(outDims) : DNNL.md(outDims, .plain)
    let p = makeForward(
      g, src: srcMD, weights: weightDims(w, g), bias: bias, dst: dstMD, training: training,
      postOp: postOp, accumulate: accumulate)
    let chosen = DNNL.query(p.pd, dnnl_query_dst_md)
    p.mds["dst"] = chosen
    p.layouts["dst"] = DNNL.layout(of: chosen, shape: outDims) ?? .plain
    p.mds["weights"] = DNNL.query(p.pd, dnnl_query_weights_md)
    return p
  }
}

/// 2-D convolution (PyTorch's `F.conv2d` with square stride and padding), optionally followed by a
/// fused `adding` tensor (a residual shortcut, output-shaped) and activation; the fused forms are for
/// inference (nothing may require a gradient).
public func conv2d(
  _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, postOp: PostOp? = nil,
  adding: Tensor? = nil
) -> Tensor {
  precondition(
    x.shape.rank == 4 && weight.shape.rank == 4 && x.shape[1] == weight.shape[1],
    "conv2d: input \(x.shape) does not match weight \(weight.shape) (expected [N, \(weight.shape.dims.count > 1 ? weight.shape[1] : 0), H, W])"
  )
  return convolution(
    x, weight, bias,
    ConvGeometry(
      transposed: false, stride: stride, padding: padding,
      outputPadding: 0), postOp: postOp, adding: adding)
}

/// 2-D transposed convolution (PyTorch's `F.conv_transpose2d`); weight is [Cin, Cout, KH, KW].
public func convTranspose2d(
  _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0
) -> Tensor {
  precondition(
    x.shape.rank == 4 && weight.shape.rank == 4 && x.shape[1] == weight.shape[0],
    "convTranspose2d: input \(x.shape) does not match weight \(weight.shape) (expected [N, \(weight.shape.dims.count > 0 ? weight.shape[0] : 0), H, W])"
  )
  precondition(
    outputPadding <= padding && outputPadding < stride,
    "convTranspose2d: output padding \(outputPadding) must be < stride \(stride) and <= padding \(padding)")
  return convolution(
    x, weight, bias,
    ConvGeometry(
      transposed: true, stride: stride, padding: padding,
      outputPadding: outputPadding))
}

private func convolution(
  _ x: Tensor, _ w: Tensor, _ b: Tensor?, _ g: ConvGeometry, postOp: PostOp? = nil, adding: Tensor? = nil
) -> Tensor {
  precondition(w.layout == .plain, "convolution weights must be plain, got \(w.layout)")
  let wd = weightDims(w, g)
  if let b { precondition(b.shape.dims == [wd[0]], "bias \(b.shape) does not match \(wd[0]) output channels") }
  let oh = g.outputSize(x.shape[2], wd[2])
  let ow = g.outputSize(x.shape[3], wd[3])
  precondition(oh > 0 && ow > 0, "convolution output would be empty for input \(x.shape), weight \(w.shape)")
  let outDims = [x.shape[0], wd[0], oh, ow]
  let training = isGradEnabled && (x.requiresGrad || w.requiresGrad || (b?.requiresGrad ?? false))
  precondition(postOp == nil || !training, "conv2d with a fused \(postOp!) is inference-only: run it under withNoGrad")
  precondition(adding == nil || !training, "conv2d adding a tensor is inference-only: run it under withNoGrad")
  if let adding {
    precondition(adding.shape.dims == outDims, "conv2d: added tensor \(adding.shape) does not match output \(outDims)")
  }
  if !training && !g.transposed && denseConvApplies(input: x.shape.dims, weight: wd, output: outDims) {
    var y: Tensor? = nil
    KernelStats.measure("conv", flops: g.flops(input: x.shape.dims, weight: wd, output: outDims)) {
      y = denseConvolution(
        x, w, b, stride: g.stride, padding: g.padding, outDims: outDims, postOp: postOp, adding: adding)
    }
    return y!
  }
  let p = forwardPrimitive(
    x, w, bias: b != nil, g, outDims: outDims, training: training, postOp: postOp, accumulate: adding != nil)
  let outLayout = p.layouts["dst"]!
  let outMD = DNNL.md(outDims, outLayout)
  let internalMD = p.mds["dst"]!
  if let adding {
    var a = outMD
    var c = internalMD
    // oneDNN's sum reads the output buffer, which must then hold the addend in the same layout.
    guard dnnl_memory_desc_equal(&a, &c) != 0 else {
      let y = convolution(x, w, b, g)
      let s = y + adding
      return postOp.map { op in op == .relu ? s.relu() : op == .sigmoid ? s.sigmoid() : s.tanh() } ?? s
    }
  }
  let out =
    adding.map { $0.toLayout(outLayout, differentiable: false).copy() }
    ?? Tensor(uninitialized: Shape(outDims), layout: outLayout)
  let (dstPtr, dstKeep) = p.adaptOutput(out, md: outMD, chosen: internalMD)
  let wPlain = weightMD(w, g)
  // Inference reuses the weights reordered for the previous call while they are unchanged.
  let (wPtr, wKeep) =
    training ? p.adapt(w, plainMD: wPlain, to: p.mds["weights"]!, name: "w") : p.cachedWeights(w, plainMD: wPlain)
  var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
    (DNNL_ARG_SRC, DNNL.md(x.shape.dims, x.layout), UnsafeMutableRawPointer(x.pointer)),
    (DNNL_ARG_WEIGHTS, p.mds["weights"]!, wPtr),
    (DNNL_ARG_DST, internalMD, dstPtr),
  ]
  if let b { args.append((DNNL_ARG_BIAS, DNNL.md([wd[0]], .plain), UnsafeMutableRawPointer(b.pointer))) }
  let flops = g.flops(input: x.shape.dims, weight: wd, output: outDims)
  KernelStats.measure("conv", flops: flops) { p.execute(args) }
  if let dstKeep { p.restore(dstKeep, into: out, plainMD: outMD, name: "dst") }
  withExtendedLifetime(wKeep) {}
  let inputs = b.map { [x, w, $0] } ?? [x, w]
  return record(g.transposed ? "convTranspose2d" : "conv2d", out, inputs) { grad in
    let (gPtr, gKeep) = p.adapt(grad, plainMD: DNNL.md(outDims, grad.layout), to: internalMD, name: "diff_dst")
    let diffDst = DiffDst(md: internalMD, pointer: gPtr, key: "\(grad.layout)")
    var gx: Tensor? = nil
    if x.requiresGrad {
      KernelStats.measure("conv", flops: flops) { gx = convBackwardData(diffDst, w, x, g, forward: p) }
    }
    var gw: Tensor? = nil
    var gb: Tensor? = nil
    if w.requiresGrad || (b?.requiresGrad ?? false) {
      KernelStats.measure("conv", flops: flops) {
        (gw, gb) = convBackwardWeights(diffDst, x, w, bias: b != nil, g, forward: p)
      }
    }
    withExtendedLifetime(gKeep) {}
    return b != nil ? [gx, gw, gb] : [gx, gw]
  }
}

/// The output gradient in the layout the forward primitive wrote its output in.
private struct DiffDst {
  let md: dnnl_memory_desc_t
  let pointer: UnsafeMutableRawPointer
  /// Distinguishes cached backward primitives (the internal layout follows from the forward key).
  let key: String
}

private func convBackwardData(_ grad: DiffDst, _ w: Tensor, _ x: Tensor, _ g: ConvGeometry, forward: Primitive)
  -> Tensor
{
  let key = "\(g)|bwd_data|\(x.shape.dims)|\(x.layout)|\(w.shape.dims)|\(grad.key)|\(LayoutPolicy.allowBlocked)"
  let p = DNNLContext.primitive(key) {
    var desc = dnnl_convolution_desc_t()
    var ds = DNNL.md(x.shape.dims, x.layout)
    var wmd = DNNL.anyMD(weightDims(w, g))
    var dd = grad.md
    var strides = DNNL.dims([g.stride, g.stride])
    var pl = DNNL.dims([g.padding, g.padding])
    var pr = DNNL.dims([g.padding - g.outputPadding, g.padding - g.outputPadding])
    if g.transposed {
      DNNL.check(
        dnnl_deconvolution_backward_data_desc_init(
          &desc, dnnl_deconvolution_direct, &ds, &wmd, &dd,
          &strides, &pl, &pr), "deconv bwd data desc")
    } else {
      DNNL.check(
        dnnl_convolution_backward_data_desc_init(
          &desc, dnnl_convolution_direct, &ds, &wmd, &dd,
          &strides, &pl, &pr), "conv bwd data desc")
    }
    let prim = Primitive(desc: &desc, hint: forward.pd, what: "\(g) bwd data")
    prim.mds["weights"] = DNNL.query(prim.pd, dnnl_query_weights_md)
    return prim
  }
  let gx = Tensor(uninitialized: x.shape, layout: x.layout)
  let (wPtr, wKeep) = p.adapt(w, plainMD: weightMD(w, g), to: p.mds["weights"]!, name: "w")
  p.execute([
    (DNNL_ARG_DIFF_DST, grad.md, grad.pointer),
    (DNNL_ARG_WEIGHTS, p.mds["weights"]!, wPtr),
    (DNNL_ARG_DIFF_SRC, DNNL.md(x.shape.dims, x.layout), UnsafeMutableRawPointer(gx.pointer)),
  ])
  withExtendedLifetime(wKeep) {}
  return gx
}

private func convBackwardWeights(
  _ grad: DiffDst, _ x: Tensor, _ w: Tensor, bias: Bool, _ g: ConvGeometry, forward: Primitive
) -> (Tensor, Tensor?) {
  let key = "\(g)|bwd_w|\(x.shape.dims)|\(x.layout)|\(w.shape.dims)|\(grad.key)|b\(bias)|\(LayoutPolicy.allowBlocked)"
  let wd = weightDims(w, g)
  // oneDNN has no fast kernel for some shapes in blocked layouts (3×3 weights gradient at 2×2
  // spatial size, where its plain-layout GEMM kernel is slow too): those run as one im2col GEMM on
  // plain inputs (transposed convolutions use oneDNN's plain-layout kernel).
  let outDims = [x.shape[0], wd[0], g.outputSize(x.shape[2], wd[2]), g.outputSize(x.shape[3], wd[3])]
  let p = DNNLContext.primitive(key) {
    let blocked = makeBackwardWeights(grad.md, DNNL.md(x.shape.dims, x.layout), wd, bias: bias, g, forward: forward)
    guard blocked.implementation.hasPrefix("ref") else { return blocked }
    let plain = makeBackwardWeights(
      DNNL.md(outDims, .plain), DNNL.md(x.shape.dims, .plain), wd, bias: bias, g, forward: forward)
    plain.layouts["src"] = .plain
    if !g.transposed { plain.layouts["gemm"] = .plain }
    plain.mds["diff_dst"] = DNNL.md(outDims, .plain)
    return plain
  }
  let (src, gradMD, gradPtr, gradKeep) =
    p.layouts["src"] == .plain
    ? plainInputs(x, grad, p) : (x, grad.md, grad.pointer, nil)
  if p.layouts["gemm"] != nil {
    defer { withExtendedLifetime(gradKeep) {} }
    return gemmBackwardWeights(src, gradPtr.assumingMemoryBound(to: Float.self), outDims, w.shape.dims, g, bias: bias)
  }
  let gw = Tensor(uninitialized: w.shape)
  let plainMD = weightMD(w, g)
  let dwMD = p.mds["diff_weights"]!
  var a = dwMD
  var c = plainMD
  let direct = dnnl_memory_desc_equal(&a, &c) != 0
  let buffer = direct ? nil : OpaqueBuffer(md: dwMD)
  let gb = bias ? Tensor(uninitialized: Shape([wd[0]])) : nil
  var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
    (DNNL_ARG_SRC, DNNL.md(src.shape.dims, src.layout), UnsafeMutableRawPointer(src.pointer)),
    (DNNL_ARG_DIFF_DST, gradMD, gradPtr),
    (DNNL_ARG_DIFF_WEIGHTS, dwMD, buffer?.pointer ?? UnsafeMutableRawPointer(gw.pointer)),
  ]
  if let gb { args.append((DNNL_ARG_DIFF_BIAS, DNNL.md([wd[0]], .plain), UnsafeMutableRawPointer(gb.pointer))) }
  p.execute(args)
  withExtendedLifetime(gradKeep) {}
  if let buffer { p.restore(buffer, into: gw, plainMD: plainMD, name: "dw") }
  return (gw, gb)
}

/// Weight (and bias) gradient of a convolution as one GEMM: dW[O, C·K·K] = dY[O, N·P] · cols[N·P, C·K·K]
/// with P output pixels per sample and cols the im2col matrix of the plain input x [N, C, H, W].
private func gemmBackwardWeights(
  _ x: Tensor, _ dy: UnsafePointer<Float>, _ outDims: [Int], _ wd: [Int], _ g: ConvGeometry, bias: Bool
) -> (Tensor, Tensor?) {
  let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  let (o, oh, ow, k) = (outDims[1], outDims[2], outDims[3], wd[2])
  let p = oh * ow
  let ckk = c * k * k
  let dyr = Tensor(uninitialized: [o, n * p])
  for b in 0..<n {
    for oc in 0..<o { (dyr.pointer + oc * n * p + b * p).update(from: dy + (b * o + oc) * p, count: p) }
  }
  let cols = Tensor.zeros([n * p, ckk])
  for b in 0..<n {
    for oy in 0..<oh {
      for ox in 0..<ow {
        let row = cols.pointer + ((b * oh + oy) * ow + ox) * ckk
        for ch in 0..<c {
          for ky in 0..<k {
            let iy = oy * g.stride - g.padding + ky
            guard iy >= 0 && iy < h else { continue }
            for kx in 0..<k {
              let ix = ox * g.stride - g.padding + kx
              guard ix >= 0 && ix < w else { continue }
              row[(ch * k + ky) * k + kx] = x.pointer[((b * c + ch) * h + iy) * w + ix]
            }
          }
        }
      }
    }
  }
  let gw = Tensor(uninitialized: Shape(wd))
  DNNL.check(
    dnnl_sgemm(
      CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), Int64(o), Int64(ckk), Int64(n * p), 1, dyr.pointer,
      Int64(n * p), cols.pointer, Int64(ckk), 0, gw.pointer, Int64(ckk)), "sgemm")
  guard bias else { return (gw, nil) }
  let gb = Tensor(uninitialized: [o])
  for oc in 0..<o { gb.pointer[oc] = Elementwise.sum(dyr.pointer + oc * n * p, n * p) }
  return (gw, gb)
}

/// The source and output gradient reordered to plain layouts for a primitive created with them.
private func plainInputs(_ x: Tensor, _ grad: DiffDst, _ p: Primitive)
  -> (Tensor, dnnl_memory_desc_t, UnsafeMutableRawPointer, OpaqueBuffer?)
{
  let src = x.toLayout(.plain, differentiable: false)
  let plainMD = p.mds["diff_dst"]!
  var given = grad.md
  var wanted = plainMD
  if dnnl_memory_desc_equal(&given, &wanted) != 0 { return (src, grad.md, grad.pointer, nil) }
  let r = p.reorderCache("diff_dst") { Primitive.reorder(from: grad.md, to: plainMD) }
  let buffer = OpaqueBuffer(md: plainMD)
  r.reorder(grad.pointer, grad.md, buffer.pointer, plainMD)
  return (src, plainMD, buffer.pointer, buffer)
}

private func makeBackwardWeights(
  _ diffDst: dnnl_memory_desc_t, _ srcMD: dnnl_memory_desc_t, _ wd: [Int], bias: Bool, _ g: ConvGeometry,
  forward: Primitive
) -> Primitive {
  var desc = dnnl_convolution_desc_t()
  var s = srcMD
  var dw = DNNL.anyMD(wd)
  var db = DNNL.md([wd[0]], .plain)
  var dd = diffDst
  var strides = DNNL.dims([g.stride, g.stride])
  var pl = DNNL.dims([g.padding, g.padding])
  var pr = DNNL.dims([g.padding - g.outputPadding, g.padding - g.outputPadding])
  withOptionalPointer(bias, &db) { bp in
    if g.transposed {
      DNNL.check(
        dnnl_deconvolution_backward_weights_desc_init(
          &desc, dnnl_deconvolution_direct, &s, &dw,
          bp, &dd, &strides, &pl, &pr), "deconv bwd weights desc")
    } else {
      DNNL.check(
        dnnl_convolution_backward_weights_desc_init(
          &desc, dnnl_convolution_direct, &s, &dw,
          bp, &dd, &strides, &pl, &pr), "conv bwd weights desc")
    }
  }
  let prim = Primitive(desc: &desc, hint: forward.pd, what: "\(g) bwd weights")
  prim.mds["diff_weights"] = DNNL.query(prim.pd, dnnl_query_diff_weights_md)
  return prim
}

/// Passes a pointer to `value` when `present`, else nil (optional bias descriptors).
private func withOptionalPointer<T, R>(_ present: Bool, _ value: inout T, _ body: (UnsafePointer<T>?) -> R) -> R {
  if present { return withUnsafePointer(to: &value) { body($0) } }
  return body(nil)
}
