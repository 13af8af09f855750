/// One synthetic generative architecture.
///
/// **The paper's space** (`--space paper`, the official code's: 2·2·2·3·4·3 = 288 architectures) has
/// six-digit ids `b l o u a n`: blocks K (0 → 1, 1 → 2), conv layers per up block L (0 → 1, 1 → 2),
/// order (0 → post: upsample → conv → norm → act; 1 → pre: norm → act → upsample → conv), upsampling
/// (0 bilinear, 1 nearest, 2 transposed conv), activation (0 none, 1 ReLU, 2 sigmoid, 3 tanh), norm
/// (0 none, 1 batch, 2 instance).
///
/// **The extended space** (`--space extended`, 4·2·2·4·7·5·4·2 = 17 920 architectures, the paper's 288
/// among them) adds the components real generators are built from: K up to 4 (×8 and ×16 stacks;
/// a latent-diffusion VAE decoder upsamples ×8), pixel-shuffle upsampling (u = 3), leaky ReLU 0.2,
/// SiLU and GELU (a = 4, 5, 6), group and layer norm (n = 3, 4), the unit's convolution (c: 0 → 3×3,
/// 1 → 1×1, 2 → 5×5, 3 → StyleGAN2's modulated 3×3) and residual units (r: 0 → plain, 1 → with a
/// skip connection). Its ids have
/// eight digits `b l o u a n c r`. An architecture of the paper's space keeps its six-digit id, and
/// the eight-digit spelling of one is refused, so every architecture has exactly one id.
public struct Architecture: Hashable, Codable, Sendable, CustomStringConvertible {
  public enum Order: Int, Codable, Sendable, CaseIterable {
    case post = 0
    case pre = 1
  }
  public enum Upsampling: Int, Codable, Sendable, CaseIterable {
    case bilinear = 0
    case nearest = 1
    case transposedConv = 2
    /// A 3×3 convolution to 4·C channels, then depth to space (ESPCN, ESRGAN). Extended space.
    case pixelShuffle = 3
  }
  public enum Activation: Int, Codable, Sendable, CaseIterable {
    case none = 0
    case relu = 1
    case sigmoid = 2
    case tanh = 3
    /// Slope 0.2 (StyleGAN, DCGAN). Extended space.
    case leakyReLU = 4
    /// x·σ(x) (latent-diffusion decoders). Extended space.
    case silu = 5
    /// GELU, tanh approximation (transformer blocks). Extended space.
    case gelu = 6
  }
  public enum Norm: Int, Codable, Sendable, CaseIterable {
    case none = 0
    case batch = 1
    case instance = 2
    /// Group norm with gcd(32, C) groups: 32 as in latent diffusion where C is a multiple of 32, one
    /// group (layer norm) on the 3-channel output. Extended space.
    case group = 3
    /// Layer norm over (C, H, W) with a per-channel affine (group norm with one group). Extended space.
    case layer = 4
  }
  /// The generative unit's convolution.
  public enum Kernel: Int, Codable, Sendable, CaseIterable {
    case k3 = 0
    case k1 = 1
    case k5 = 2
    /// StyleGAN2's modulated, demodulated 3×3 convolution, the style from the unit's input.
    case modulated3 = 3

    /// The side in pixels.
    public var size: Int { [3, 1, 5, 3][rawValue] }
    /// Whether the convolution is modulated.
    public var isModulated: Bool { self == .modulated3 }
    /// `3×3`, `1×1`, `5×5` or `mod 3×3`.
    public var label: String { (isModulated ? "mod " : "") + "\(size)×\(size)" }
  }

  /// Down/up block pairs (1 or 2 in the paper's space, up to 4 in the extended one).
  public var blocks: Int
  /// Conv units per up block (1 or 2).
  public var layers: Int
  public var order: Order
  public var upsampling: Upsampling
  public var activation: Activation
  public var norm: Norm
  /// The unit's convolution (a plain 3×3 in the paper's space).
  public var kernel: Kernel
  /// Whether each unit adds a skip connection (none in the paper's space).
  public var residual: Bool

  /// Whether this architecture belongs to the paper's 288.
  public var isPaper: Bool {
    blocks <= 2 && upsampling.rawValue <= 2 && activation.rawValue <= 3 && norm.rawValue <= 2 && kernel == .k3
      && !residual
  }

  /// The six-digit id in the paper's space, the eight-digit one otherwise.
  public var id: String {
    let paper =
      "\(blocks - 1)\(layers - 1)\(order.rawValue)\(upsampling.rawValue)\(activation.rawValue)\(norm.rawValue)"
    return isPaper ? paper : paper + "\(kernel.rawValue)\(residual ? 1 : 0)"
  }

  public var description: String { id }

  /// Parses a six-digit (paper) or eight-digit (extended) id.
  ///
  /// - Throws: ``ArchitectureError`` when the id is neither, is outside its space, or spells a paper
  ///   architecture with eight digits.
  public init(id: String) throws {
    let digits = id.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
    guard id.count == 6 || id.count == 8, digits.count == id.count else { throw ArchitectureError.malformed(id) }
    let maxBlocks = id.count == 6 ? 1 : 3
    guard digits[0] <= maxBlocks, digits[1] <= 1, let o = Order(rawValue: digits[2]),
      let u = Upsampling(rawValue: digits[3]), let a = Activation(rawValue: digits[4]),
      let n = Norm(rawValue: digits[5])
    else { throw id.count == 6 ? ArchitectureError.outOfRange(id) : ArchitectureError.outOfExtendedRange(id) }
    var kernel = Kernel.k3
    var residual = false
    if id.count == 8 {
      guard let k = Kernel(rawValue: digits[6]), digits[7] <= 1 else { throw ArchitectureError.outOfExtendedRange(id) }
      kernel = k
      residual = digits[7] == 1
    }
    self.init(
      blocks: digits[0] + 1, layers: digits[1] + 1, order: o, upsampling: u, activation: a, norm: n, kernel: kernel,
      residual: residual)
    guard self.id == id else {
      throw id.count == 6 ? ArchitectureError.outOfRange(id) : ArchitectureError.paperSpelledLong(id, self.id)
    }
  }

  public init(
    blocks: Int, layers: Int, order: Order, upsampling: Upsampling, activation: Activation, norm: Norm,
    kernel: Kernel = .k3, residual: Bool = false
  ) {
    precondition((1...4).contains(blocks) && (1...2).contains(layers), "blocks must be 1 to 4 and layers 1 or 2")
    self.blocks = blocks
    self.layers = layers
    self.order = order
    self.upsampling = upsampling
    self.activation = activation
    self.norm = norm
    self.kernel = kernel
    self.residual = residual
  }

  /// All 288 architectures of the paper's space in id order (`space(.paper)`).
  public static let all: [Architecture] = enumerate(.paper)

  /// Every architecture of `space`, in id order (digit by digit; the paper's architectures sort as
  /// their eight-digit spelling would).
  public static func space(_ space: ArchitectureSpace) -> [Architecture] {
    space == .paper ? all : extended
  }

  private static let extended: [Architecture] = enumerate(.extended)

  private static func enumerate(_ space: ArchitectureSpace) -> [Architecture] {
    let paper = space == .paper
    var out: [Architecture] = []
    for b in 1...(paper ? 2 : 4) {
      for l in 1...2 {
        for o in Order.allCases {
          for u in Upsampling.allCases where !paper || u.rawValue <= 2 {
            for a in Activation.allCases where !paper || a.rawValue <= 3 {
              for n in Norm.allCases where !paper || n.rawValue <= 2 {
                for k in Kernel.allCases where !paper || k == .k3 {
                  for r in paper ? [false] : [false, true] {
                    out.append(
                      Architecture(
                        blocks: b, layers: l, order: o, upsampling: u, activation: a, norm: n, kernel: k, residual: r))
                  }
                }
              }
            }
          }
        }
      }
    }
    return out
  }
}

/// A registry of synthetic architectures.
public enum ArchitectureSpace: String, Codable, Sendable, CaseIterable {
  /// The paper's 288 (six-digit ids), the default.
  case paper
  /// The paper's space with the components of real generators added (17 920 architectures).
  case extended
}

/// An architecture id that is not in the space.
public enum ArchitectureError: Error, CustomStringConvertible, Equatable {
  case malformed(String)
  case outOfRange(String)
  case outOfExtendedRange(String)
  case paperSpelledLong(String, String)

  public var description: String {
    switch self {
    case .malformed(let id):
      return
        "architecture id '\(id)' is not six digits (b l o u a n, e.g. 110011) or eight (b l o u a n c r, e.g. 31015301)"
    case .outOfRange(let id):
      return
        "architecture id '\(id)' is outside the paper's space: b, l, o ∈ {0,1}, u ∈ {0,1,2}, a ∈ {0..3}, n ∈ {0,1,2}"
    case .outOfExtendedRange(let id):
      return
        "architecture id '\(id)' is outside the extended space: b ∈ {0..3}, l, o ∈ {0,1}, u ∈ {0..3}, a ∈ {0..6}, "
        + "n ∈ {0..4}, c ∈ {0..3}, r ∈ {0,1}"
    case .paperSpelledLong(let id, let short):
      return "architecture id '\(id)' is the paper's architecture \(short): give its six-digit id"
    }
  }
}
