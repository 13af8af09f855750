import Tensor

/// DnCNN (Zhang et al. 2017): a conv + ReLU, depth − 2 × (conv, batch norm, ReLU), a final conv; it
/// predicts the noise of its input (the residual), so denoised = x − DnCNN(x). The paper's extractor
/// uses depth 17, width 64.
public final class DnCNN: Module {
  public let net: Sequential
  public let depth: Int
  public let width: Int

  public init(depth: Int = 17, width: Int = 64, channels: Int = 3, rng: inout RNG) {
    precondition(depth >= 3 && width > 0, "DnCNN needs depth ≥ 3 and width > 0, got \(depth), \(width)")
    var layers: [Module] = [Conv2D(channels, width, kernel: 3, padding: 1, rng: &rng), Activation(.relu)]
    for _ in 0..<(depth - 2) {
      layers += [
        Conv2D(width, width, kernel: 3, padding: 1, bias: false, rng: &rng), BatchNorm2D(width), Activation(.relu),
      ]
    }
    layers.append(Conv2D(width, channels, kernel: 3, padding: 1, rng: &rng))
    net = Sequential(layers)
    self.depth = depth
    self.width = width
    super.init()
  }

  public override var children: [(String, Module)] { net.children }

  /// The predicted noise residual of `x` [N, C, H, W].
  public override func forward(_ x: Tensor) -> Tensor { net(x) }
}
