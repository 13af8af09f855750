import Tensor

/// A ResNet basic block (two 3×3 convs with batch norm, projection shortcut when the shape changes),
/// named as torchvision's: conv1, bn1, conv2, bn2, down.0, down.1.
public final class BasicBlock: Module {
  public let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D
  public let down: Sequential?

  public init(_ inChannels: Int, _ channels: Int, stride: Int, rng: inout RNG) {
    conv1 = Conv2D(inChannels, channels, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng)
    bn1 = BatchNorm2D(channels)
    conv2 = Conv2D(channels, channels, kernel: 3, stride: 1, padding: 1, bias: false, rng: &rng)
    bn2 = BatchNorm2D(channels)
    if stride != 1 || inChannels != channels {
      down = Sequential(
        Conv2D(inChannels, channels, kernel: 1, stride: stride, bias: false, rng: &rng),
        BatchNorm2D(channels))
    } else {
      down = nil
    }
    super.init()
  }

  public override var children: [(String, Module)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (down.map { [("down", $0)] } ?? [])
  }

  private static let relu = Activation(.relu)

  public override func forward(_ x: Tensor) -> Tensor {
    let identity = down?(x) ?? x
    let h = Fusion.apply([conv1, bn1, Self.relu], x)
    guard !isGradEnabled, !isTraining, !bn2.isTraining else {
      return (Fusion.apply([conv2, bn2], h) + identity).relu()
    }
    // Inference: the shortcut add and the ReLU run inside the second convolution (oneDNN post-ops).
    let (w, b) = bn2.folded(into: conv2)
    return conv2d(h, weight: w, bias: b, stride: conv2.stride, padding: conv2.padding, postOp: .relu, adding: identity)
  }
}

/// A ResNet bottleneck block (1×1 reduce, 3×3 with the stride, 1×1 expand ×4, batch norm after each,
/// projection shortcut when the shape changes), named as torchvision's: conv1…bn3, down.0, down.1.
public final class Bottleneck: Module {
  public let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D, conv3: Conv2D, bn3: BatchNorm2D
  public let down: Sequential?
  /// Output channels per bottleneck channel.
  public static let expansion = 4

  public init(_ inChannels: Int, _ channels: Int, stride: Int, rng: inout RNG) {
    let out = channels * Self.expansion
    conv1 = Conv2D(inChannels, channels, kernel: 1, stride: 1, bias: false, rng: &rng)
    bn1 = BatchNorm2D(channels)
    conv2 = Conv2D(channels, channels, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng)
    bn2 = BatchNorm2D(channels)
    conv3 = Conv2D(channels, out, kernel: 1, stride: 1, bias: false, rng: &rng)
    bn3 = BatchNorm2D(out)
    if stride != 1 || inChannels != out {
      down = Sequential(Conv2D(inChannels, out, kernel: 1, stride: stride, bias: false, rng: &rng), BatchNorm2D(out))
    } else {
      down = nil
    }
    super.init()
  }

  public override var children: [(String, Module)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)]
      + (down.map { [("down", $0)] } ?? [])
  }

  private static let relu = Activation(.relu)

  public override func forward(_ x: Tensor) -> Tensor {
    let identity = down?(x) ?? x
    let h = Fusion.apply([conv2, bn2, Self.relu], Fusion.apply([conv1, bn1, Self.relu], x))
    return (Fusion.apply([conv3, bn3], h) + identity).relu()
  }
}

/// ResNet-18, -34 or -50 with a configurable base width, a classifier head and a projection head (the
/// reference workloads' network at depth 18): stem (7×7/2 conv, BN, ReLU, 3×3/2 max pool), four stages
/// of basic blocks (18: 2-2-2-2, 34: 3-4-6-3) or bottleneck blocks (50: 3-4-6-3), global average pooling.
public final class ResNet: Module {
  public let stem: Sequential
  public let body: Sequential
  public let cls: Linear
  public let proj: Linear
  /// 18, 34 or 50.
  public let depth: Int
  /// Channels of the stem and the first stage (the width multiplier × 64 of torchvision's).
  public let width: Int
  /// The embedding width (8 × base width, ×4 again at depth 50).
  public let embeddingWidth: Int

  /// Depths this class builds.
  public static let depths = [18, 34, 50]

  /// With `zeroInitResidual`, the last batch norm of every residual branch starts with scale 0, so that
  /// each block starts as its shortcut and the network as a shallow one (Goyal et al. 2017, torchvision's
  /// `zero_init_residual`): deep networks then train at learning rates where they otherwise stall.
  public init(
    depth: Int = 18, width: Int = 32, classes: Int = 1000, projection: Int = 128, zeroInitResidual: Bool = false,
    rng: inout RNG
  ) {
    precondition(Self.depths.contains(depth), "ResNet: depth \(depth) is not one of \(Self.depths)")
    self.depth = depth
    self.width = width
    stem = Sequential(
      Conv2D(3, width, kernel: 7, stride: 2, padding: 3, bias: false, rng: &rng),
      BatchNorm2D(width), Activation(.relu), MaxPool2D(3, stride: 2, padding: 1))
    let counts = depth == 18 ? [2, 2, 2, 2] : [3, 4, 6, 3]
    var blocks: [Module] = []
    var cin = width
    for (i, c) in [width, 2 * width, 4 * width, 8 * width].enumerated() {
      for j in 0..<counts[i] {
        let stride = i > 0 && j == 0 ? 2 : 1
        if depth == 50 {
          blocks.append(Bottleneck(cin, c, stride: stride, rng: &rng))
          cin = c * Bottleneck.expansion
        } else {
          blocks.append(BasicBlock(cin, c, stride: stride, rng: &rng))
          cin = c
        }
      }
    }
    if zeroInitResidual {
      for block in blocks {
        let last = (block as? BasicBlock)?.bn2 ?? (block as! Bottleneck).bn3
        last.weight.assign(Tensor.zeros(last.weight.shape))
      }
    }
    body = Sequential(blocks)
    embeddingWidth = cin
    cls = Linear(cin, classes, rng: &rng)
    proj = Linear(cin, projection, rng: &rng)
    super.init()
  }

  public override var children: [(String, Module)] {
    [("stem", stem), ("body", body), ("cls", cls), ("proj", proj)]
  }

  /// The pooled embedding [N, 8·width].
  public func embed(_ x: Tensor) -> Tensor { globalAvgPool(body(stem(x))) }

  /// Class logits and projection of the embedding.
  public func heads(_ x: Tensor) -> (logits: Tensor, projection: Tensor) {
    let e = embed(x)
    return (cls(e), proj(e))
  }

  public override func forward(_ x: Tensor) -> Tensor { embed(x) }
}
