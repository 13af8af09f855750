import Foundation
import Tensor

/// PyTorch's default initialisation of a weight and bias with the given fan-in:
/// kaiming_uniform(a = √5) gives U(−1/√fan_in, 1/√fan_in) for both.
func defaultInit(_ shape: Shape, fanIn: Int, rng: inout RNG) -> Tensor {
  let bound = 1 / Float(fanIn).squareRoot()
  let t = Tensor.uniform(shape, -bound, bound, rng: &rng)
  t.requiresGrad = true
  return t
}

/// 2-D convolution with square kernel, stride and padding (PyTorch's `nn.Conv2d`).
public final class Conv2D: Module {
  public let weight: Tensor
  public let bias: Tensor?
  public let stride: Int
  public let padding: Int

  /// Creates the layer with PyTorch's default initialisation.
  public init(
    _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    bias: Bool = true, rng: inout RNG
  ) {
    let fanIn = inChannels * kernel * kernel
    weight = defaultInit([outChannels, inChannels, kernel, kernel], fanIn: fanIn, rng: &rng)
    self.bias = bias ? defaultInit([outChannels], fanIn: fanIn, rng: &rng) : nil
    self.stride = stride
    self.padding = padding
    super.init()
  }

  public override var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public override func forward(_ x: Tensor) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
  }
}

/// 2-D transposed convolution (PyTorch's `nn.ConvTranspose2d`); weight [in, out, k, k].
public final class ConvTranspose2D: Module {
  public let weight: Tensor
  public let bias: Tensor?
  public let stride: Int
  public let padding: Int
  public let outputPadding: Int

  /// Creates the layer with PyTorch's default initialisation (fan-in from the weight's second dim).
  public init(
    _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    outputPadding: Int = 0, bias: Bool = true, rng: inout RNG
  ) {
    let fanIn = outChannels * kernel * kernel
    weight = defaultInit([inChannels, outChannels, kernel, kernel], fanIn: fanIn, rng: &rng)
    self.bias = bias ? defaultInit([outChannels], fanIn: fanIn, rng: &rng) : nil
    self.stride = stride
    self.padding = padding
    self.outputPadding = outputPadding
    super.init()
  }

  public override var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public override func forward(_ x: Tensor) -> Tensor {
    convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
  }
}

/// Batch normalization with affine parameters and running statistics (PyTorch's `nn.BatchNorm2d`).
public final class BatchNorm2D: Module {
  public let weight: Tensor
  public let bias: Tensor
  public let runningMean: Tensor
  public let runningVar: Tensor
  public let momentum: Float
  public let eps: Float
  /// Folded inference weights of the convolution before this layer (see ``Fusion``), filled during a
  /// forward pass; locked because inference may run on several threads with one network.
  let foldCache = Locked<FoldCache?>(nil)
  /// Ghost batch norm in training mode: statistics per contiguous 1/`statisticGroups` of the batch, the
  /// running statistics from the first part (see ``Module/setBatchNormGroups(_:)``). 1 is PyTorch's
  /// `BatchNorm2d`.
  public var statisticGroups = 1

  public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
    weight = Tensor.full([channels], 1)
    bias = Tensor.zeros([channels])
    weight.requiresGrad = true
    bias.requiresGrad = true
    runningMean = Tensor.zeros([channels])
    runningVar = Tensor.full([channels], 1)
    self.momentum = momentum
    self.eps = eps
    super.init()
  }

  public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
  public override var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

  public override func forward(_ x: Tensor) -> Tensor {
    batchNorm(
      x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar, training: isTraining,
      momentum: momentum, eps: eps, groups: isTraining ? statisticGroups : 1)
  }
}

extension Module {
  /// Sets ``BatchNorm2D/statisticGroups`` of every batch norm in this module and its children: a
  /// single process then computes what `groups` data-parallel processes with per-process statistics
  /// (PyTorch DDP's default) compute on their parts of the batch.
  public func setBatchNormGroups(_ groups: Int) {
    precondition(groups >= 1, "setBatchNormGroups: \(groups) groups")
    if let bn = self as? BatchNorm2D { bn.statisticGroups = groups }
    for (_, c) in children { c.setBatchNormGroups(groups) }
  }
}

/// Instance normalization without affine parameters (PyTorch's `nn.InstanceNorm2d` default).
public final class InstanceNorm2D: Module {
  public let eps: Float
  public init(eps: Float = 1e-5) {
    self.eps = eps
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor { instanceNorm(x, eps: eps) }
}

/// Average pooling (PyTorch's `nn.AvgPool2d`).
public final class AvgPool2D: Module {
  let kernel: Int, stride: Int, padding: Int
  public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor { avgPool2d(x, kernel: kernel, stride: stride, padding: padding) }
}

/// Max pooling (PyTorch's `nn.MaxPool2d`).
public final class MaxPool2D: Module {
  let kernel: Int, stride: Int, padding: Int
  public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor { maxPool2d(x, kernel: kernel, stride: stride, padding: padding) }
}

/// Global average pooling to [N, C] (PyTorch's `adaptive_avg_pool2d(x, 1).flatten(1)`).
public final class GlobalAvgPool: Module {
  public override init() { super.init() }
  public override func forward(_ x: Tensor) -> Tensor { globalAvgPool(x) }
}

/// ×2 upsampling, nearest or bilinear (align_corners = false).
public final class Upsample: Module {
  /// The interpolation.
  public enum Mode: String, Codable, Sendable { case nearest, bilinear }
  public let mode: Mode
  public let factor: Int
  public init(_ mode: Mode, factor: Int = 2) {
    self.mode = mode
    self.factor = factor
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor {
    mode == .nearest ? upsampleNearest(x, factor: factor) : upsampleBilinear(x, factor: factor)
  }
}

/// A pointwise activation (leaky ReLU with slope 0.2, GELU with the tanh approximation).
public final class Activation: Module {
  /// The function.
  public enum Kind: String, Codable, Sendable { case relu, sigmoid, tanh, leakyReLU, silu, gelu }
  public let kind: Kind
  public init(_ kind: Kind) {
    self.kind = kind
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor {
    switch kind {
    case .relu: return x.relu()
    case .sigmoid: return x.sigmoid()
    case .tanh: return x.tanh()
    case .leakyReLU: return x.leakyReLU(slope: 0.2)
    case .silu: return x.silu()
    case .gelu: return x.gelu()
    }
  }
}

/// Fully connected layer (PyTorch's `nn.Linear`).
public final class Linear: Module {
  public let weight: Tensor
  public let bias: Tensor?
  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RNG) {
    weight = defaultInit([outFeatures, inFeatures], fanIn: inFeatures, rng: &rng)
    self.bias = bias ? defaultInit([outFeatures], fanIn: inFeatures, rng: &rng) : nil
    super.init()
  }
  public override var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }
  public override func forward(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}

/// Dropout: in training, zeroes each element with probability `p` and scales the rest by 1/(1 − p).
public final class Dropout: Module {
  public let p: Float
  private var rng: RNG
  public init(_ p: Float, seed: UInt64 = 0) {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
    self.p = p
    self.rng = RNG(seed: seed)
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor {
    guard isTraining, p > 0 else { return x }
    let mask = Tensor(uninitialized: x.shape, layout: x.layout)
    let keep = 1 / (1 - p)
    for i in 0..<x.count { mask.pointer[i] = rng.uniform() < p ? 0 : keep }
    return x * mask
  }
}

/// A convolution's weights with a batch norm folded in, and the versions they were made from.
struct FoldCache {
  let conv: Conv2D
  let versions: [Int]
  let weight: Tensor
  let bias: Tensor
}
