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

/// ResNet-18 with a configurable base width, a classifier head and a projection head (the reference
/// workloads' network): stem (7×7/2 conv, BN, ReLU, 3×3/2 max pool), four stages of two basic
/// blocks, global average pooling.
public final class ResNet18: Module {
  public let stem: Sequential
  public let body: Sequential
  public let cls: Linear
  public let proj: Linear
  /// The embedding width (8 × base width).
  public let embeddingWidth: Int

  public init(width: Int = 32, classes: Int = 1000, projection: Int = 128, rng: inout RNG) {
    stem = Sequential(
      Conv2D(3, width, kernel: 7, stride: 2, padding: 3, bias: false, rng: &rng),
      BatchNorm2D(width), Activation(.relu), MaxPool2D(3, stride: 2, padding: 1))
    var blocks: [Module] = []
    var cin = width
    for (i, c) in [width, 2 * width, 4 * width, 8 * width].enumerated() {
      blocks.append(BasicBlock(cin, c, stride: i == 0 ? 1 : 2, rng: &rng))
      blocks.append(BasicBlock(c, c, stride: 1, rng: &rng))
      cin = c
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
