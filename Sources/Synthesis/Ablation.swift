/// The paper's synthesis ablations (Tables II and IV), and one per new digit of the extended space: each
/// removes one source of diversity from the pool by keeping only the architectures (or seeds) that use a
/// single choice for it (the paper's choice where there is one: one block pair, bilinear, no activation,
/// no norm, 3×3 kernels, no skip). In the extended space w/o K, U, A and N keep that single choice too,
/// so they also remove the digit's new values.
public enum Ablation: String, CaseIterable, Codable, Sendable {
  /// Every architecture and seed.
  case all
  /// One down/up block pair (K = 1).
  case withoutK = "w/o K"
  /// One conv layer per up block (L = 1).
  case withoutL = "w/o L"
  /// Post order only (upsample → conv → norm → act).
  case withoutS = "w/o S"
  /// Bilinear upsampling only.
  case withoutU = "w/o U"
  /// No activation.
  case withoutA = "w/o A"
  /// No normalisation.
  case withoutN = "w/o N"
  /// One seed per architecture (seed 0).
  case withoutSeed = "w/o seed"
  /// 3×3 kernels only (extended space's digit c).
  case withoutC = "w/o C"
  /// No residual units (extended space's digit r).
  case withoutR = "w/o R"

  /// The paper's ablations (Table II), in its order.
  public static let paper: [Ablation] = [
    .all, .withoutK, .withoutL, .withoutS, .withoutU, .withoutA, .withoutN, .withoutSeed,
  ]

  /// Parses `all`, `K`, `L`, `S`, `U`, `A`, `N`, `seed`, `C` or `R` (also `w/o K`, `wo-K`,
  /// case-insensitive).
  public init?(flag: String) {
    var s = flag.lowercased()
    for prefix in ["w/o ", "w/o", "wo-", "wo_", "without-"] where s.hasPrefix(prefix) {
      s = String(s.dropFirst(prefix.count))
    }
    switch s {
    case "all": self = .all
    case "k": self = .withoutK
    case "l": self = .withoutL
    case "s": self = .withoutS
    case "u": self = .withoutU
    case "a": self = .withoutA
    case "n": self = .withoutN
    case "seed": self = .withoutSeed
    case "c": self = .withoutC
    case "r": self = .withoutR
    default: return nil
    }
  }

  /// Whether `architecture` belongs to the ablated space.
  public func includes(_ architecture: Architecture) -> Bool {
    switch self {
    case .all, .withoutSeed: return true
    case .withoutK: return architecture.blocks == 1
    case .withoutL: return architecture.layers == 1
    case .withoutS: return architecture.order == .post
    case .withoutU: return architecture.upsampling == .bilinear
    case .withoutA: return architecture.activation == .none
    case .withoutN: return architecture.norm == .none
    case .withoutC: return architecture.kernel == .k3
    case .withoutR: return !architecture.residual
    }
  }

  /// Whether the model (`architecture`, `seed`) belongs to the ablated pool.
  public func includes(_ architecture: Architecture, seed: Int) -> Bool {
    includes(architecture) && (self != .withoutSeed || seed == 0)
  }

  /// The architectures of the ablated paper space, in id order.
  public var architectures: [Architecture] { architectures(in: .paper) }

  /// The architectures of the ablated `space`, in id order.
  public func architectures(in space: ArchitectureSpace) -> [Architecture] {
    Architecture.space(space).filter(includes)
  }
}
