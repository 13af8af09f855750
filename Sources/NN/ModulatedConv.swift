import Tensor

/// StyleGAN2's modulated convolution, stride 1, with its style taken from the layer's own input: s =
/// affine(global average of x), the affine's bias starting at 1 as StyleGAN2's does, so a fresh layer
/// is near a plain demodulated convolution. (In StyleGAN2 the style comes from the mapping network's
/// w; a synthetic auto-encoder has no latent code, and the input's channel means are the per-sample
/// signal it has.) Parameters: `weight` [Co, Ci, k, k], `bias` [Co], `affine.weight` [Ci, Ci],
/// `affine.bias` [Ci].
public final class ModulatedConv2D: Module {
  public let weight: Tensor
  public let bias: Tensor
  public let affine: Linear
  public let padding: Int

  /// PyTorch's default initialisation for the weight and bias (as `Conv2D`), the affine's bias 1.
  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, padding: Int = 0, rng: inout RNG) {
    let fanIn = inChannels * kernel * kernel
    weight = defaultInit([outChannels, inChannels, kernel, kernel], fanIn: fanIn, rng: &rng)
    bias = defaultInit([outChannels], fanIn: fanIn, rng: &rng)
    let affine = Linear(inChannels, inChannels, rng: &rng)
    withNoGrad { affine.bias!.assign(Tensor.full([inChannels], 1)) }
    self.affine = affine
    self.padding = padding
    super.init()
  }

  public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
  public override var children: [(String, Module)] { [("affine", affine)] }

  public override func forward(_ x: Tensor) -> Tensor {
    let style = affine(globalAvgPool(x))
    return modulatedConv2d(x, weight: weight, style: style, bias: bias, padding: padding)
  }
}
