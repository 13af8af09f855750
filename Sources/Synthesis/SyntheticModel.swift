import NN
import Tensor

/// One conv unit of an up block: optional ×2 upsampling, a k×k conv, and the block's norm and
/// activation in the architecture's order. Children are named as the reference (deconv, conv, norm);
/// the extended space's adds `shuffle` (pixel shuffle's convolution to 4·C channels), `skip` (the
/// residual path's 1×1 convolution where the unit changes the channel count) and, for a modulated
/// convolution, `conv.affine` (its style).
final class GenerativeUnit: Module {
  let architecture: Architecture
  let upsample: Bool
  let deconv: ConvTranspose2D?
  let shuffle: Conv2D?
  let interpolation: Upsample?
  /// A `Conv2D`, or a `ModulatedConv2D` for c = 3 (which inference fusion then leaves alone).
  let conv: Module
  let norm: Module?
  let activation: Module?
  /// The residual path: nearest ×2 when the unit upsamples (parameter-free, as BigGAN's and the
  /// latent-diffusion decoder's skips), then a 1×1 convolution when the channel count changes.
  let skipUp: Upsample?
  let skip: Conv2D?

  init(_ a: Architecture, _ cin: Int, _ cout: Int, upsample: Bool, rng: inout RNG) {
    architecture = a
    self.upsample = upsample
    deconv =
      upsample && a.upsampling == .transposedConv
      ? ConvTranspose2D(cin, cin, kernel: 2, stride: 2, rng: &rng) : nil
    shuffle = upsample && a.upsampling == .pixelShuffle ? Conv2D(cin, 4 * cin, kernel: 3, padding: 1, rng: &rng) : nil
    switch (upsample, a.upsampling) {
    case (true, .bilinear): interpolation = Upsample(.bilinear)
    case (true, .nearest): interpolation = Upsample(.nearest)
    default: interpolation = nil
    }
    let (k, p) = (a.kernel.size, a.kernel.size / 2)
    conv =
      a.kernel.isModulated
      ? ModulatedConv2D(cin, cout, kernel: k, padding: p, rng: &rng)
      : Conv2D(cin, cout, kernel: k, padding: p, rng: &rng)
    let normChannels = a.order == .post ? cout : cin
    switch a.norm {
    case .none: norm = nil
    case .batch: norm = BatchNorm2D(normChannels)
    case .instance: norm = InstanceNorm2D()
    case .group: norm = GroupNorm2D(groups: Self.groups(normChannels), channels: normChannels)
    case .layer: norm = GroupNorm2D(groups: 1, channels: normChannels)
    }
    switch a.activation {
    case .none: activation = nil
    case .relu: activation = NN.Activation(.relu)
    case .sigmoid: activation = NN.Activation(.sigmoid)
    case .tanh: activation = NN.Activation(.tanh)
    case .leakyReLU: activation = NN.Activation(.leakyReLU)
    case .silu: activation = NN.Activation(.silu)
    case .gelu: activation = NN.Activation(.gelu)
    }
    skipUp = a.residual && upsample ? Upsample(.nearest) : nil
    skip = a.residual && cin != cout ? Conv2D(cin, cout, kernel: 1, rng: &rng) : nil
    super.init()
  }

  /// Group norm's group count: 32 (latent diffusion's) where it divides the channels, else their
  /// greatest common divisor with 32 (one group, layer norm, for the 3-channel output).
  static func groups(_ channels: Int) -> Int {
    var (a, b) = (32, channels)
    while b != 0 { (a, b) = (b, a % b) }
    return a
  }

  override var children: [(String, Module)] {
    (deconv.map { [("deconv", $0 as Module)] } ?? []) + (shuffle.map { [("shuffle", $0 as Module)] } ?? [])
      + [("conv", conv)] + (norm.map { [("norm", $0)] } ?? []) + (skip.map { [("skip", $0 as Module)] } ?? [])
  }

  private func up(_ h: Tensor) -> Tensor {
    if let deconv { return deconv(h) }
    if let shuffle { return pixelShuffle(shuffle(h)) }
    if let interpolation { return interpolation(h) }
    return h
  }

  override func forward(_ x: Tensor) -> Tensor {
    var h = x
    let out: Tensor
    if architecture.order == .pre {
      if let norm { h = norm(h) }
      if let activation { h = activation(h) }
      out = conv(up(h))
    } else {
      out = Fusion.apply([conv] + [norm, activation].compactMap { $0 }, up(h))
    }
    guard architecture.residual else { return out }
    var s = skipUp.map { $0(x) } ?? x
    if let skip { s = skip(s) }
    return out + s
  }
}

/// What follows a synthetic model's last unit.
public enum OutputHead: String, Codable, Sendable, CaseIterable {
  /// Nothing: the paper's space, where a post-order model ends on its norm and activation, so a ReLU,
  /// sigmoid or instance norm there cannot reach the [−1, 1] target range.
  case none
  /// A 1×1 convolution (a per-pixel affine colour map), as most real generators end on a convolution:
  /// it lets every architecture reach the target range and keeps the last unit's artifacts.
  case conv1x1
}

/// A synthetic generative model: an auto-encoder of fixed down blocks and the architecture's up
/// blocks, fully identified by (architecture, seed). Parameter names match the PyTorch reference
/// (`synthetic_model` in the reference workloads), so state dicts are interchangeable.
public final class SyntheticModel: Module {
  public let architecture: Architecture
  public let head: OutputHead
  let net: Sequential

  /// Builds the model with PyTorch-default initialisation drawn from `rng`.
  public init(_ architecture: Architecture, head: OutputHead = .none, rng: inout RNG) {
    self.architecture = architecture
    self.head = head
    func down(_ cin: Int, _ cout: Int) -> Sequential {
      Sequential(
        AvgPool2D(2), Conv2D(cin, cout, kernel: 3, padding: 1, rng: &rng), BatchNorm2D(cout),
        NN.Activation(.relu), Conv2D(cout, cout, kernel: 3, padding: 1, rng: &rng), BatchNorm2D(cout))
    }
    func up(_ cin: Int, _ cout: Int) -> Sequential {
      if architecture.layers == 2 {
        return Sequential(
          GenerativeUnit(architecture, cin, cin, upsample: true, rng: &rng),
          GenerativeUnit(architecture, cin, cout, upsample: false, rng: &rng))
      }
      return Sequential(GenerativeUnit(architecture, cin, cout, upsample: true, rng: &rng))
    }
    // K = 1 and 2 are the paper's; deeper stacks double to 128 channels and stay there, which keeps a
    // K = 4 model near K = 2's cost.
    let widths = Array([3, 32, 64, 128, 128].prefix(architecture.blocks + 1))
    var stages: [Module] = (0..<architecture.blocks).map { down(widths[$0], widths[$0 + 1]) }
    stages += (0..<architecture.blocks).reversed().map { up(widths[$0 + 1], widths[$0]) }
    if head == .conv1x1 { stages.append(Conv2D(3, 3, kernel: 1, rng: &rng)) }
    net = Sequential(stages)
    super.init()
  }

  /// Builds the model for `seed`.
  public convenience init(_ architecture: Architecture, seed: UInt64, head: OutputHead = .none) {
    var rng = RNG(seed: seed)
    self.init(architecture, head: head, rng: &rng)
  }

  public override var children: [(String, Module)] { net.children }

  /// Maps images in [−1, 1] ([N, 3, H, W], H and W divisible by 2^K) to reconstructions.
  public override func forward(_ x: Tensor) -> Tensor {
    precondition(x.shape.rank == 4 && x.shape[1] == 3, "SyntheticModel expects [N, 3, H, W], got \(x.shape)")
    let m = 1 << architecture.blocks
    precondition(
      x.shape[2] % m == 0 && x.shape[3] % m == 0,
      "SyntheticModel \(architecture.id): height and width of \(x.shape) must be multiples of \(m)")
    return net(x)
  }
}
