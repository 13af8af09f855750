import Tensor

/// Group normalization with per-channel affine parameters (PyTorch's `nn.GroupNorm`), weight 1 and
/// bias 0 at start. One group is layer normalization over (C, H, W) with a per-channel affine.
public final class GroupNorm2D: Module {
  public let groups: Int
  public let weight: Tensor
  public let bias: Tensor
  public let eps: Float

  /// - Precondition: `groups` divides `channels`.
  public init(groups: Int, channels: Int, eps: Float = 1e-5) {
    precondition(groups >= 1 && channels % groups == 0, "GroupNorm2D: \(groups) groups do not divide \(channels)")
    self.groups = groups
    weight = Tensor.full([channels], 1)
    bias = Tensor.zeros([channels])
    weight.requiresGrad = true
    bias.requiresGrad = true
    self.eps = eps
    super.init()
  }

  public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

  public override func forward(_ x: Tensor) -> Tensor {
    groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
  }
}

/// Depth to space by `factor` (PyTorch's `nn.PixelShuffle`): [N, C·r², H, W] → [N, C, H·r, W·r].
public final class PixelShuffle: Module {
  public let factor: Int
  public init(_ factor: Int = 2) {
    self.factor = factor
    super.init()
  }
  public override func forward(_ x: Tensor) -> Tensor { pixelShuffle(x, factor: factor) }
}
