/// One synthetic generative architecture, identified by six digits `b l o u a n` (the official
/// code's space, 2·2·2·3·4·3 = 288 architectures):
/// blocks K (0 → 1, 1 → 2), conv layers per up block L (0 → 1, 1 → 2), order (0 → post:
/// upsample → conv → norm → act; 1 → pre: norm → act → upsample → conv), upsampling (0 bilinear,
/// 1 nearest, 2 transposed conv), activation (0 none, 1 ReLU, 2 sigmoid, 3 tanh), norm (0 none,
/// 1 batch, 2 instance).
public struct Architecture: Hashable, Codable, Sendable, CustomStringConvertible {
  public enum Order: Int, Codable, Sendable, CaseIterable {
    case post = 0
    case pre = 1
  }
  public enum Upsampling: Int, Codable, Sendable, CaseIterable {
    case bilinear = 0
    case nearest = 1
    case transposedConv = 2
  }
  public enum Activation: Int, Codable, Sendable, CaseIterable {
    case none = 0
    case relu = 1
    case sigmoid = 2
    case tanh = 3
  }
  public enum Norm: Int, Codable, Sendable, CaseIterable {
    case none = 0
    case batch = 1
    case instance = 2
  }

  /// Down/up block pairs (1 or 2).
  public var blocks: Int
  /// Conv units per up block (1 or 2).
  public var layers: Int
  public var order: Order
  public var upsampling: Upsampling
  public var activation: Activation
  public var norm: Norm

  /// The six-digit id.
  public var id: String {
    "\(blocks - 1)\(layers - 1)\(order.rawValue)\(upsampling.rawValue)\(activation.rawValue)\(norm.rawValue)"
  }

  public var description: String { id }

  /// Parses a six-digit id.
  ///
  /// - Throws: ``ArchitectureError`` when the id is not six digits within the space.
  public init(id: String) throws {
    let digits = id.compactMap { $0.wholeNumberValue }
    guard id.count == 6, digits.count == 6 else { throw ArchitectureError.malformed(id) }
    guard digits[0] <= 1, digits[1] <= 1, let o = Order(rawValue: digits[2]), let u = Upsampling(rawValue: digits[3]),
      let a = Activation(rawValue: digits[4]), let n = Norm(rawValue: digits[5])
    else { throw ArchitectureError.outOfRange(id) }
    self.init(blocks: digits[0] + 1, layers: digits[1] + 1, order: o, upsampling: u, activation: a, norm: n)
  }

  public init(blocks: Int, layers: Int, order: Order, upsampling: Upsampling, activation: Activation, norm: Norm) {
    precondition((1...2).contains(blocks) && (1...2).contains(layers), "blocks and layers must be 1 or 2")
    self.blocks = blocks
    self.layers = layers
    self.order = order
    self.upsampling = upsampling
    self.activation = activation
    self.norm = norm
  }

  /// All 288 architectures in id order.
  public static let all: [Architecture] = {
    var out: [Architecture] = []
    for b in 1...2 {
      for l in 1...2 {
        for o in Order.allCases {
          for u in Upsampling.allCases {
            for a in Activation.allCases {
              for n in Norm.allCases {
                out.append(Architecture(blocks: b, layers: l, order: o, upsampling: u, activation: a, norm: n))
              }
            }
          }
        }
      }
    }
    return out
  }()
}

/// An architecture id that is not in the space.
public enum ArchitectureError: Error, CustomStringConvertible, Equatable {
  case malformed(String)
  case outOfRange(String)

  public var description: String {
    switch self {
    case .malformed(let id): return "architecture id '\(id)' is not six digits (b l o u a n, e.g. 110011)"
    case .outOfRange(let id):
      return "architecture id '\(id)' is outside the space: b, l, o ∈ {0,1}, u ∈ {0,1,2}, a ∈ {0..3}, n ∈ {0,1,2}"
    }
  }
}
