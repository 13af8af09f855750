// Differentiable elementwise ops and reductions over whole tensors. Binary ops need equal shapes
// (no broadcasting) and bring the second operand to the first one's layout.

/// Records a custom op for autodiff: `backward` maps the output's gradient to one gradient per input
/// (nil where none is needed), each with its input's shape. Layers outside this module use it for
/// fused ops such as losses.
@discardableResult
public func differentiable(
  _ name: String, output: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]
) -> Tensor {
  record(name, output, inputs, backward)
}

private func sameLayout(_ a: Tensor, _ b: Tensor, _ op: String) -> Tensor {
  precondition(a.shape == b.shape, "\(op): shapes \(a.shape) and \(b.shape) differ")
  return b.layout == a.layout ? b : b.toLayout(a.layout)
}

private func unary(
  _ name: String, _ x: Tensor, _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
  backward: @escaping (_ g: Tensor, _ y: Tensor) -> Tensor
) -> Tensor {
  let out = Tensor(uninitialized: x.shape, layout: x.layout)
  f(x.pointer, out.pointer, x.count)
  let y = out.detached()
  return record(name, out, [x]) { g in
    [backward(g.layout == y.layout ? g : g.toLayout(y.layout, differentiable: false), y)]
  }
}

private func gradKernel(
  _ g: Tensor, _ y: Tensor, _ f: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
) -> Tensor {
  let out = Tensor(uninitialized: y.shape, layout: y.layout)
  f(g.pointer, y.pointer, out.pointer, y.count)
  return out
}

extension Tensor {
  /// max(x, 0)
  public func relu() -> Tensor {
    unary("relu", self, Elementwise.relu) { g, y in gradKernel(g, y, Elementwise.reluBackward) }
  }
  /// 1 / (1 + e^−x)
  public func sigmoid() -> Tensor {
    unary("sigmoid", self, Elementwise.sigmoid) { g, y in gradKernel(g, y, Elementwise.sigmoidBackward) }
  }
  /// tanh(x)
  public func tanh() -> Tensor {
    unary("tanh", self, Elementwise.tanh) { g, y in gradKernel(g, y, Elementwise.tanhBackward) }
  }
  /// e^x
  public func exp() -> Tensor {
    unary("exp", self, Elementwise.exp) { g, y in gradKernel(g, y, Elementwise.mul) }
  }

  /// self · s
  public func scaled(_ s: Float) -> Tensor {
    let out = Tensor(uninitialized: shape, layout: layout)
    Elementwise.scale(pointer, s, out.pointer, count)
    return record("scale", out, [self]) { g in
      let r = Tensor(uninitialized: g.shape, layout: g.layout)
      Elementwise.scale(g.pointer, s, r.pointer, g.count)
      return [r]
    }
  }

  /// Σ of all elements, as a one-element tensor.
  public func sum() -> Tensor {
    let p = layout == .plain ? self : toLayout(.plain)
    let out = Tensor([Elementwise.sum(p.pointer, p.count)], shape: [1])
    return record("sum", out, [p]) { g in [Tensor.full(p.shape, g.pointer[0])] }
  }

  /// Mean of all elements, as a one-element tensor.
  public func mean() -> Tensor { sum().scaled(1 / Float(count)) }

  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let b = sameLayout(a, b, "add")
    let out = Tensor(uninitialized: a.shape, layout: a.layout)
    Elementwise.add(a.pointer, b.pointer, out.pointer, a.count)
    return record("add", out, [a, b]) { g in [g, g] }
  }

  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let b = sameLayout(a, b, "sub")
    let out = Tensor(uninitialized: a.shape, layout: a.layout)
    Elementwise.sub(a.pointer, b.pointer, out.pointer, a.count)
    return record("sub", out, [a, b]) { g in [g, b.requiresGrad ? g.scaledNoGrad(-1) : nil] }
  }

  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let b = sameLayout(a, b, "mul")
    let out = Tensor(uninitialized: a.shape, layout: a.layout)
    Elementwise.mul(a.pointer, b.pointer, out.pointer, a.count)
    let av = a.detached()
    let bv = b.detached()
    return record("mul", out, [a, b]) { g in
      let ga = a.requiresGrad ? gradKernel(g, bv, Elementwise.mul) : nil
      let gb = b.requiresGrad ? gradKernel(g, av, Elementwise.mul) : nil
      return [ga, gb]
    }
  }

  func scaledNoGrad(_ s: Float) -> Tensor {
    let r = Tensor(uninitialized: shape, layout: layout)
    Elementwise.scale(pointer, s, r.pointer, count)
    return r
  }
}
