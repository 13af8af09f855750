import COpenBLAS

// Fully connected layer through OpenBLAS sgemm (single-threaded calls on bands of the output, one
// per thread of the engine's team).
//
// Shapes: x [N, In] plain, weight [Out, In] (PyTorch's layout), bias [Out]; y = x·Wᵀ + b, [N, Out].

/// y = x·Wᵀ + b (PyTorch's `F.linear`).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
  precondition(
    x.shape.rank == 2 && weight.shape.rank == 2 && x.shape[1] == weight.shape[1],
    "linear: input \(x.shape) does not match weight \(weight.shape) (expected [N, \(weight.shape.rank == 2 ? weight.shape[1] : 0)])"
  )
  let n = x.shape[0]
  let k = x.shape[1]
  let m = weight.shape[0]
  if let bias { precondition(bias.shape.dims == [m], "linear: bias \(bias.shape) does not match \(m) outputs") }
  let xp = x.layout == .plain ? x : x.toLayout(.plain)
  let out = Tensor(uninitialized: Shape([n, m]))
  if let bias {
    for i in 0..<n { (out.pointer + i * m).update(from: bias.pointer, count: m) }
  }
  // Each thread takes a band of output features (columns of y, rows of W).
  Threads.ranges(m, work: n * m * k) { r in
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(r.count), Int32(k), 1, xp.pointer, Int32(k),
      weight.pointer + r.lowerBound * k, Int32(k), bias == nil ? 0 : 1, out.pointer + r.lowerBound, Int32(m))
  }
  let inputs = [xp, weight] + (bias.map { [$0] } ?? [])
  return record("linear", out, inputs) { g in
    var gx: Tensor? = nil
    if xp.requiresGrad {
      let r = Tensor(uninitialized: xp.shape)
      // Bands of input features (columns of gx and W).
      Threads.ranges(k, work: n * m * k) { c in
        cblas_sgemm(
          CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(c.count), Int32(m), 1, g.pointer, Int32(m),
          weight.pointer + c.lowerBound, Int32(k), 0, r.pointer + c.lowerBound, Int32(k))
      }
      gx = r
    }
    var gw: Tensor? = nil
    if weight.requiresGrad {
      let r = Tensor(uninitialized: weight.shape)
      // Bands of output features (rows of gW, columns of g).
      Threads.ranges(m, work: n * m * k) { o in
        cblas_sgemm(
          CblasRowMajor, CblasTrans, CblasNoTrans, Int32(o.count), Int32(k), Int32(n), 1, g.pointer + o.lowerBound,
          Int32(m), xp.pointer, Int32(k), 0, r.pointer + o.lowerBound * k, Int32(k))
      }
      gw = r
    }
    var grads: [Tensor?] = [gx, gw]
    if bias != nil {
      let r = Tensor.zeros(Shape([m]))
      for i in 0..<n { Elementwise.add(r.pointer, g.pointer + i * m, r.pointer, m) }
      grads.append(r)
    }
    return grads
  }
}
