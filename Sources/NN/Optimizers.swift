import Foundation
import Tensor

/// Adam and AdamW with PyTorch's semantics (bias-corrected moments, ε added after the square root;
/// Adam's weight decay is L2 added to the gradient, AdamW's is decoupled).
public final class Adam {
  /// The parameters updated by ``step()``.
  public let parameters: [Tensor]
  /// The learning rate; schedules set it before each step.
  public var learningRate: Float
  public let beta1: Float
  public let beta2: Float
  public let eps: Float
  public let weightDecay: Float
  /// Decoupled weight decay (AdamW) rather than L2 (Adam).
  public let decoupled: Bool
  /// Steps taken.
  public private(set) var stepCount = 0
  private var m: [Tensor]
  private var v: [Tensor]

  public init(
    _ parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
    eps: Float = 1e-8, weightDecay: Float = 0, decoupled: Bool = false
  ) {
    self.parameters = parameters
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
    self.decoupled = decoupled
    m = parameters.map { Tensor.zeros($0.shape) }
    v = parameters.map { Tensor.zeros($0.shape) }
  }

  /// AdamW (PyTorch's defaults: weight decay 0.01).
  public static func adamW(_ parameters: [Tensor], learningRate: Float = 1e-3, weightDecay: Float = 0.01) -> Adam {
    Adam(parameters, learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
  }

  /// A snapshot of the moments and step count, for checkpoints that resume training (`m.<i>`, `v.<i>` per
  /// parameter in order, `step`).
  public func state() -> [String: Tensor] {
    var out: [String: Tensor] = ["step": Tensor([Float(stepCount)], shape: [1])]
    for i in parameters.indices {
      // Copies: the live moments keep changing in place after the snapshot.
      out["m.\(i)"] = m[i].toLayout(.plain, differentiable: false).copy()
      out["v.\(i)"] = v[i].toLayout(.plain, differentiable: false).copy()
    }
    return out
  }

  /// Restores ``state()``; throws when it does not fit these parameters.
  public func load(state: [String: Tensor]) throws {
    guard let step = state["step"], step.count == 1 else { throw StateDictError.missing("step") }
    var mm: [Tensor] = []
    var vv: [Tensor] = []
    for (i, p) in parameters.enumerated() {
      guard let a = state["m.\(i)"], let b = state["v.\(i)"] else { throw StateDictError.missing("m.\(i)") }
      guard a.shape == p.shape, b.shape == p.shape else {
        throw StateDictError.shapeMismatch("m.\(i)", expected: p.shape, found: a.shape)
      }
      mm.append(a.toLayout(.plain, differentiable: false).copy())
      vv.append(b.toLayout(.plain, differentiable: false).copy())
    }
    m = mm
    v = vv
    stepCount = Int(step.item)
  }

  /// Sets every parameter's gradient to nil.
  public func zeroGrad() { for p in parameters { p.grad = nil } }

  /// Updates every parameter that has a gradient.
  public func step() {
    stepCount += 1
    let bc1 = 1 - Float(Foundation.pow(Double(beta1), Double(stepCount)))
    let bc2 = 1 - Float(Foundation.pow(Double(beta2), Double(stepCount)))
    let stepSize = learningRate / bc1
    let bc2Sqrt = bc2.squareRoot()
    let work = parameters.indices.filter { parameters[$0].grad != nil }
    for i in work {
      let (p, g) = (parameters[i], parameters[i].grad!)
      precondition(
        g.shape == p.shape && g.layout == .plain, "Adam: gradient \(g.shape) does not match parameter \(p.shape)")
    }
    // One parallel region per step: each thread updates its slice of every parameter.
    let teams = Threads.count
    Threads.parallelFor(teams) { t in
      for i in work {
        let p = parameters[i]
        let n = p.count
        let per = ((n + teams - 1) / teams + 15) & ~15
        let lo = t * per
        guard lo < n else { continue }
        AdamKernel.update(
          p: p.pointer + lo, g: p.grad!.pointer + lo, m: m[i].pointer + lo, v: v[i].pointer + lo, n: min(per, n - lo),
          lr: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled,
          stepSize: stepSize, bc2Sqrt: bc2Sqrt)
      }
    }
    for i in work { parameters[i].markModified() }
  }
}

/// The Adam update over raw buffers, SIMD, with its scalar reference twin.
public enum AdamKernel {
  public static func update(
    p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
    v: UnsafeMutablePointer<Float>, n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
    weightDecay: Float, decoupled: Bool, stepSize: Float, bc2Sqrt: Float
  ) {
    typealias V = SIMD16<Float>
    let decay = decoupled ? 1 - lr * weightDecay : 1
    let l2 = decoupled ? 0 : weightDecay
    var i = 0
    let pr = UnsafeMutableRawPointer(p)
    let gr = UnsafeRawPointer(g)
    let mr = UnsafeMutableRawPointer(m)
    let vr = UnsafeMutableRawPointer(v)
    while i + 16 <= n {
      let o = i * 4
      var pv = pr.loadUnaligned(fromByteOffset: o, as: V.self) * decay
      let gv = gr.loadUnaligned(fromByteOffset: o, as: V.self) + l2 * pv
      let mv = beta1 * mr.loadUnaligned(fromByteOffset: o, as: V.self) + (1 - beta1) * gv
      let vv = beta2 * vr.loadUnaligned(fromByteOffset: o, as: V.self) + (1 - beta2) * gv * gv
      pv -= stepSize * mv / (vv.squareRoot() / bc2Sqrt + eps)
      pr.storeBytes(of: pv, toByteOffset: o, as: V.self)
      mr.storeBytes(of: mv, toByteOffset: o, as: V.self)
      vr.storeBytes(of: vv, toByteOffset: o, as: V.self)
      i += 16
    }
    referenceUpdate(
      p: p + i, g: g + i, m: m + i, v: v + i, n: n - i, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
      weightDecay: weightDecay, decoupled: decoupled, stepSize: stepSize, bc2Sqrt: bc2Sqrt)
  }

  /// The plain scalar update, as `torch.optim.Adam(W)` writes it.
  public static func referenceUpdate(
    p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
    v: UnsafeMutablePointer<Float>, n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
    weightDecay: Float, decoupled: Bool, stepSize: Float, bc2Sqrt: Float
  ) {
    for i in 0..<n {
      if decoupled { p[i] *= 1 - lr * weightDecay }
      let grad = decoupled ? g[i] : g[i] + weightDecay * p[i]
      m[i] = beta1 * m[i] + (1 - beta1) * grad
      v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
      p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
    }
  }
}

/// Scales all gradients so that their joint L2 norm is at most `maxNorm` (PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
  var total: Float = 0
  for p in parameters { if let g = p.grad { total += Elementwise.sumOfSquares(g.pointer, g.count) } }
  let norm = total.squareRoot()
  let coef = maxNorm / (norm + 1e-6)
  if coef < 1 {
    for p in parameters { if let g = p.grad { Elementwise.scale(g.pointer, coef, g.pointer, g.count) } }
  }
  return norm
}
