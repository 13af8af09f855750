// LeakyReLU, SiLU and GELU: the activations of real generators that the paper's space lacks
// (StyleGAN's and DCGAN's leaky ReLU, the SiLU of latent-diffusion decoders, the GELU of transformer
// blocks). Shapes: any; layout: any (elementwise). Fast kernels in Swift SIMD beside their plain twins
// in `Reference`. Their derivatives need the input, not the output (SiLU and GELU are not monotone), so
// the backward pass keeps x.

extension Elementwise {
  /// out = a where a > 0, else slope·a (PyTorch's `leaky_relu`)
  public static func leakyReLU(
    _ a: UnsafePointer<Float>, _ slope: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    map(a, out, n) { $0.replacing(with: $0 * slope, where: $0 .<= 0) }
  }
  /// out = g where x > 0, else slope·g
  public static func leakyReLUBackward(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ slope: Float, _ out: UnsafeMutablePointer<Float>,
    _ n: Int
  ) {
    zip(g, x, out, n) { g, x in g.replacing(with: g * slope, where: x .<= 0) }
  }
  /// out = a·σ(a) (SiLU, also called swish)
  public static func silu(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { $0 / (1 + exp(-$0)) }
  }
  /// out = g·σ(x)·(1 + x·(1 − σ(x)))
  public static func siluBackward(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(g, x, out, n) { g, x in
      let s = 1 / (1 + exp(-x))
      return g * s * (1 + x * (1 - s))
    }
  }

  /// √(2/π) and the cubic coefficient of GELU's tanh approximation (Hendrycks & Gimpel 2016).
  static let geluC: Float = 0.797_884_56
  static let geluA: Float = 0.044_715

  /// out = ½·a·(1 + tanh(√(2/π)·(a + 0.044715·a³))) (PyTorch's `gelu(approximate="tanh")`)
  public static func gelu(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { x in
      let u: V = geluC * (x + geluA * x * x * x)
      return 0.5 * x * (1 + tanh(u))
    }
  }
  /// out = g·(½·(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)), t the tanh of the forward
  public static func geluBackward(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(g, x, out, n) { g, x in
      let x2 = x * x
      let t: V = tanh(geluC * (x + geluA * x2 * x))
      let inner: V = geluC * (1 + 3 * geluA * x2)
      let dt: V = 0.5 * x * (1 - t * t) * inner
      return g * (0.5 * (1 + t) + dt)
    }
  }
}

extension Reference {
  /// a where a > 0, else slope·a
  public static func leakyReLU<T: BinaryFloatingPoint>(_ a: [T], slope: T) -> [T] { a.map { $0 > 0 ? $0 : slope * $0 } }
  /// a·σ(a)
  public static func silu<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ a: [T]) -> [T] {
    a.map { $0 / (1 + T.expShim(-$0)) }
  }
  /// GELU, tanh approximation.
  public static func gelu<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ a: [T]) -> [T] {
    let c = T(0.797_884_560_802_865_4)  // √(2/π)
    return a.map { x in x / 2 * (1 + T.tanhShim(c * (x + T(0.044_715) * x * x * x))) }
  }
}

/// An elementwise op whose backward pass needs its input.
private func unaryOfInput(
  _ name: String, _ x: Tensor, _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
  backward: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
) -> Tensor {
  let out = Tensor(uninitialized: x.shape, layout: x.layout)
  f(x.pointer, out.pointer, x.count)
  let saved = x.detached()
  return record(name, out, [x]) { g in
    let g = g.layout == saved.layout ? g : g.toLayout(saved.layout, differentiable: false)
    let gx = Tensor(uninitialized: saved.shape, layout: saved.layout)
    backward(g.pointer, saved.pointer, gx.pointer, saved.count)
    return [gx]
  }
}

extension Tensor {
  /// x where x > 0, else slope·x (StyleGAN and DCGAN use slope 0.2).
  public func leakyReLU(slope: Float = 0.2) -> Tensor {
    unaryOfInput(
      "leakyReLU", self, { Elementwise.leakyReLU($0, slope, $1, $2) },
      backward: { Elementwise.leakyReLUBackward($0, $1, slope, $2, $3) })
  }
  /// x·σ(x)
  public func silu() -> Tensor { unaryOfInput("silu", self, Elementwise.silu, backward: Elementwise.siluBackward) }
  /// GELU with the tanh approximation (within 5e-4 of the erf form everywhere).
  public func gelu() -> Tensor { unaryOfInput("gelu", self, Elementwise.gelu, backward: Elementwise.geluBackward) }
}
