import CDNNL

// Batch normalization and instance normalization through oneDNN.
//
// Shapes: x [N, C, H, W] in any supported layout; weight, bias, running mean and variance [C] plain.
// Running statistics follow PyTorch: running = (1 − momentum)·running + momentum·batch, with the
// unbiased batch variance. Instance normalization (no affine, always instance statistics, as
// PyTorch's InstanceNorm2d default) is batch normalization over N·C channels of one sample: the same
// memory viewed as [1, N·C, H, W], which every supported layout but nhwc allows.

private func bnPrimitive(
  _ dims: [Int], _ layout: Layout, affine: Bool, globalStats: Bool, training: Bool,
  eps: Float, backward: Bool, hint: Primitive?
) -> Primitive {
  let key = "bn|\(dims)|\(layout)|a\(affine)|g\(globalStats)|t\(training)|e\(eps)|b\(backward)"
  return DNNLContext.primitive(key) {
    var desc = dnnl_batch_normalization_desc_t()
    var md = DNNL.md(dims, layout)
    var flags: UInt32 = 0
    if affine { flags |= dnnl_use_scale.rawValue | dnnl_use_shift.rawValue }
    if globalStats { flags |= dnnl_use_global_stats.rawValue }
    if backward {
      var diff = md
      DNNL.check(
        dnnl_batch_normalization_backward_desc_init(
          &desc, affine ? dnnl_backward : dnnl_backward_data,
          &diff, &md, eps, flags), "bn bwd desc")
      return Primitive(desc: &desc, hint: hint!.pd, what: "bn bwd \(dims)")
    }
    let prop = training ? dnnl_forward_training : dnnl_forward_inference
    DNNL.check(dnnl_batch_normalization_forward_desc_init(&desc, prop, &md, eps, flags), "bn fwd desc")
    return Primitive(desc: &desc, what: "bn fwd \(dims)")
  }
}

/// Normalization over (N, H, W) per channel, the core of batch and instance norm.
///
/// With `stats` given (eval mode) those are used; otherwise batch statistics are computed and
/// returned through `onStats` (mean and biased variance). With `groups` > 1 (ghost batch norm, training
/// only) each contiguous 1/`groups` of the samples is normalised by its own statistics: samples are
/// contiguous in every layout (N is outermost), so each group is the same primitive on a sub-range of the
/// buffers, exactly what one process holding only that part of the batch computes. `onStats` receives
/// the first group's statistics, as data-parallel training keeps rank 0's running statistics.
private func normalize(
  _ x: Tensor, dims: [Int], weight: Tensor?, bias: Tensor?, stats: (Tensor, Tensor)?, eps: Float,
  groups: Int = 1, onStats: ((Tensor, Tensor) -> Void)?
) -> Tensor {
  precondition(
    groups >= 1 && dims[0] % groups == 0 && (groups == 1 || stats == nil),
    "batchNorm: \(groups) statistic groups for \(dims[0]) samples of \(dims) (must divide N, training only)")
  let c = dims[1]
  let affine = weight != nil
  let needsGrad = isGradEnabled && (x.requiresGrad || (weight?.requiresGrad ?? false) || (bias?.requiresGrad ?? false))
  let globalStats = stats != nil
  var groupDims = dims
  groupDims[0] = dims[0] / groups
  let stride = groupDims.reduce(1, *)
  let p = bnPrimitive(
    groupDims, x.layout, affine: affine, globalStats: globalStats, training: needsGrad || !globalStats,
    eps: eps, backward: false, hint: nil)
  let out = Tensor(uninitialized: x.shape, layout: x.layout)
  let md = DNNL.md(groupDims, x.layout)
  let cmd = DNNL.md([c], .plain)
  var means: [Tensor] = []
  var variances: [Tensor] = []
  for g in 0..<groups {
    let mean = stats?.0 ?? Tensor(uninitialized: Shape([c]))
    let variance = stats?.1 ?? Tensor(uninitialized: Shape([c]))
    var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
      (DNNL_ARG_SRC, md, UnsafeMutableRawPointer(x.pointer + g * stride)),
      (DNNL_ARG_DST, md, UnsafeMutableRawPointer(out.pointer + g * stride)),
      (DNNL_ARG_MEAN, cmd, UnsafeMutableRawPointer(mean.pointer)),
      (DNNL_ARG_VARIANCE, cmd, UnsafeMutableRawPointer(variance.pointer)),
    ]
    if let weight, let bias {
      args.append((DNNL_ARG_SCALE, cmd, UnsafeMutableRawPointer(weight.pointer)))
      args.append((DNNL_ARG_SHIFT, cmd, UnsafeMutableRawPointer(bias.pointer)))
    }
    p.execute(args)
    means.append(mean)
    variances.append(variance)
  }
  if stats == nil { onStats?(means[0], variances[0]) }
  let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
  let savedMeans = means.map { $0.copyIfShared(stats != nil) }
  let savedVars = variances.map { $0.copyIfShared(stats != nil) }
  return record("batchNorm", out, inputs) { g in
    let bp = bnPrimitive(
      groupDims, x.layout, affine: affine, globalStats: globalStats, training: true, eps: eps,
      backward: true, hint: p)
    let gx = Tensor(uninitialized: x.shape, layout: x.layout)
    let gmd = DNNL.md(groupDims, g.layout)
    precondition(g.layout == x.layout, "batchNorm: gradient layout \(g.layout) differs from input \(x.layout)")
    var gw: Tensor? = nil
    var gb: Tensor? = nil
    for k in 0..<groups {
      var bargs: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
        (DNNL_ARG_SRC, md, UnsafeMutableRawPointer(x.pointer + k * stride)),
        (DNNL_ARG_MEAN, cmd, UnsafeMutableRawPointer(savedMeans[k].pointer)),
        (DNNL_ARG_VARIANCE, cmd, UnsafeMutableRawPointer(savedVars[k].pointer)),
        (DNNL_ARG_DIFF_DST, gmd, UnsafeMutableRawPointer(g.pointer + k * stride)),
        (DNNL_ARG_DIFF_SRC, md, UnsafeMutableRawPointer(gx.pointer + k * stride)),
      ]
      if let weight, let bias {
        let dw = Tensor(uninitialized: Shape([c]))
        let db = Tensor(uninitialized: Shape([c]))
        bargs.append((DNNL_ARG_SCALE, cmd, UnsafeMutableRawPointer(weight.pointer)))
        bargs.append((DNNL_ARG_SHIFT, cmd, UnsafeMutableRawPointer(bias.pointer)))
        bargs.append((DNNL_ARG_DIFF_SCALE, cmd, UnsafeMutableRawPointer(dw.pointer)))
        bargs.append((DNNL_ARG_DIFF_SHIFT, cmd, UnsafeMutableRawPointer(db.pointer)))
        bp.execute(bargs)
        // The groups' parameter gradients add up in group order, as an all-reduce over ranks adds them.
        if let w = gw, let b = gb {
          for i in 0..<c {
            w.pointer[i] += dw.pointer[i]
            b.pointer[i] += db.pointer[i]
          }
        } else {
          gw = dw
          gb = db
        }
      } else {
        bp.execute(bargs)
      }
    }
    return affine ? [gx, gw, gb] : [gx]
  }
}

extension Tensor {
  /// A private copy when the values may change later (running statistics are updated in place).
  fileprivate func copyIfShared(_ shared: Bool) -> Tensor { shared ? copy() : self }
}

/// Batch normalization (PyTorch's `F.batch_norm`).
///
/// In training mode the batch statistics normalise `x` and update `runningMean`/`runningVar` in
/// place; in eval mode the running statistics are used. `groups` > 1 in training mode is ghost batch
/// norm: statistics per contiguous 1/`groups` of the batch (what each of `groups` data-parallel
/// processes computes on its part), and the running statistics follow the first group's.
public func batchNorm(
  _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?, training: Bool,
  momentum: Float = 0.1, eps: Float = 1e-5, groups: Int = 1
) -> Tensor {
  precondition(x.shape.rank == 4, "batchNorm expects [N, C, H, W], got \(x.shape)")
  let c = x.shape[1]
  for t in [weight, bias, runningMean, runningVar].compactMap({ $0 }) {
    precondition(t.shape.dims == [c], "batchNorm: parameter \(t.shape) does not match \(c) channels of \(x.shape)")
  }
  precondition((weight == nil) == (bias == nil), "batchNorm: weight and bias must both be given or both be nil")
  if !training {
    precondition(runningMean != nil && runningVar != nil, "batchNorm in eval mode needs running statistics")
    return normalize(
      x, dims: x.shape.dims, weight: weight, bias: bias, stats: (runningMean!, runningVar!),
      eps: eps, onStats: nil)
  }
  precondition(
    groups >= 1 && x.shape[0] % groups == 0,
    "batchNorm: \(groups) statistic groups do not divide the batch of \(x.shape)")
  let n = x.count / c / groups
  return normalize(x, dims: x.shape.dims, weight: weight, bias: bias, stats: nil, eps: eps, groups: groups) {
    mean, variance in
    guard let runningMean, let runningVar else { return }
    let unbias = n > 1 ? Float(n) / Float(n - 1) : 1
    for i in 0..<c {
      runningMean.pointer[i] = (1 - momentum) * runningMean.pointer[i] + momentum * mean.pointer[i]
      runningVar.pointer[i] = (1 - momentum) * runningVar.pointer[i] + momentum * variance.pointer[i] * unbias
    }
    runningMean.markModified()
    runningVar.markModified()
  }
}

/// Instance normalization without affine parameters (PyTorch's `InstanceNorm2d` default): each
/// sample's channel is normalised by its own mean and variance, in training and eval alike.
public func instanceNorm(_ x: Tensor, eps: Float = 1e-5) -> Tensor {
  precondition(x.shape.rank == 4, "instanceNorm expects [N, C, H, W], got \(x.shape)")
  let src = x.layout == .nhwc ? x.toLayout(.plain) : x
  let dims = [1, src.shape[0] * src.shape[1], src.shape[2], src.shape[3]]
  return normalize(src, dims: dims, weight: nil, bias: nil, stats: nil, eps: eps, onStats: nil)
}
