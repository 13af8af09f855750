import Tensor

/// Inference-time fusion: a convolution followed by an eval-mode batch norm and an activation runs
/// as one oneDNN convolution (batch norm folded into the weights, activation as a post-op), saving
/// two passes over the activations. Training, or recording for autodiff, runs the layers as they are.
public enum Fusion {
  /// Applies `layers` in order, fusing conv → batch norm → activation runs when inference allows.
  public static func apply(_ layers: [Module], _ x: Tensor) -> Tensor {
    guard !isGradEnabled else { return layers.reduce(x) { $1($0) } }
    var h = x
    var i = 0
    while i < layers.count {
      guard let conv = layers[i] as? Conv2D, !conv.isTraining else {
        h = layers[i](h)
        i += 1
        continue
      }
      var j = i + 1
      var weight = conv.weight
      var bias = conv.bias
      if j < layers.count, let bn = layers[j] as? BatchNorm2D, !bn.isTraining {
        (weight, bias) = bn.folded(into: conv)
        j += 1
      }
      var post: PostOp? = nil
      if j < layers.count, let act = layers[j] as? Activation, let op = act.kind.postOp {
        post = op
        j += 1
      }
      h = conv2d(h, weight: weight, bias: bias, stride: conv.stride, padding: conv.padding, postOp: post)
      i = j
    }
    return h
  }
}

extension Activation.Kind {
  /// The oneDNN post-op, where the engine has one; the others run as their own layer after the
  /// fused convolution.
  var postOp: PostOp? {
    switch self {
    case .relu: return .relu
    case .sigmoid: return .sigmoid
    case .tanh: return .tanh
    case .leakyReLU, .silu, .gelu: return nil
    }
  }
}

extension BatchNorm2D {
  /// `conv`'s weight and bias with this batch norm folded in, cached until any of the tensors involved
  /// changes (the cache keeps the same folded tensors, so oneDNN's weight reorder is cached too).
  func folded(into conv: Conv2D) -> (Tensor, Tensor) {
    let versions = [
      conv.weight.version, conv.bias?.version ?? 0, weight.version, bias.version, runningMean.version,
      runningVar.version,
    ]
    // Folding under the lock: threads that meet a stale cache at once then share one folded tensor
    // (and its oneDNN weight reorder) instead of each making its own.
    return foldCache.withLock { cache in
      if let c = cache, c.conv === conv, c.versions == versions { return (c.weight, c.bias) }
      let (w, b) = fold(weight: conv.weight, bias: conv.bias)
      cache = FoldCache(conv: conv, versions: versions, weight: w, bias: b)
      return (w, b)
    }
  }

  /// A preceding convolution's weight [Cout, …] and bias with this eval-mode batch norm folded in:
  /// w′ = w·γ/σ, b′ = (b − μ)·γ/σ + β with σ = √(running var + ε).
  func fold(weight: Tensor, bias: Tensor?) -> (Tensor, Tensor) {
    let c = weight.shape[0]
    precondition(c == runningMean.count, "fold: conv has \(c) outputs, batch norm \(runningMean.count) channels")
    let per = weight.count / c
    let w = Tensor(uninitialized: weight.shape)
    let b = Tensor(uninitialized: [c])
    for o in 0..<c {
      let scale = self.weight.pointer[o] / (runningVar.pointer[o] + eps).squareRoot()
      Elementwise.scale(weight.pointer + o * per, scale, w.pointer + o * per, per)
      b.pointer[o] = ((bias?.pointer[o] ?? 0) - runningMean.pointer[o]) * scale + self.bias.pointer[o]
    }
    return (w, b)
  }
}
