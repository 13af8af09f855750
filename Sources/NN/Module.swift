import Dispatch
import Tensor

/// A network component with named parameters, buffers and children, in PyTorch's naming scheme
/// (`body.3.conv1.weight`), so checkpoints map one-to-one onto PyTorch state dicts.
open class Module {
  /// Training mode (batch statistics, dropout) or evaluation mode. Switching modes is not safe while
  /// another thread runs the module; forward passes in evaluation mode may run on several threads at
  /// once (their only shared state, folded batch-norm weights, is locked).
  public private(set) var isTraining = true

  public init() {}

  /// Direct children with their names.
  open var children: [(String, Module)] { [] }
  /// This module's own parameters (not its children's).
  open var ownParameters: [(String, Tensor)] { [] }
  /// This module's own buffers (running statistics).
  open var ownBuffers: [(String, Tensor)] { [] }

  /// Applies the module.
  open func forward(_ x: Tensor) -> Tensor { fatalError("\(type(of: self)) does not implement forward") }

  /// Applies the module.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    guard LayerProfiler.enabled, children.isEmpty else { return forward(x) }
    let t0 = DispatchTime.now().uptimeNanoseconds
    let y = forward(x)
    LayerProfiler.add(String(describing: type(of: self)) + "\(x.shape.dims)", DispatchTime.now().uptimeNanoseconds - t0)
    return y
  }

  /// Every parameter, with dotted names.
  public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
    ownParameters.map { (prefix + $0.0, $0.1) }
      + children.flatMap { $0.1.namedParameters(prefix: prefix + $0.0 + ".") }
  }

  /// Every buffer, with dotted names.
  public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
    ownBuffers.map { (prefix + $0.0, $0.1) } + children.flatMap { $0.1.namedBuffers(prefix: prefix + $0.0 + ".") }
  }

  /// Every parameter.
  public var parameters: [Tensor] { namedParameters().map(\.1) }

  /// Parameters and buffers by name, as saved in checkpoints.
  public func stateDict() -> [String: Tensor] {
    Dictionary(namedParameters() + namedBuffers(), uniquingKeysWith: { a, _ in a })
  }

  /// Copies values from `state` into this module's parameters and buffers.
  ///
  /// - Throws: ``StateDictError`` naming the first missing tensor or shape mismatch.
  public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws {
    let own = namedParameters() + namedBuffers()
    for (name, t) in own {
      guard let v = state[name] else { throw StateDictError.missing(name) }
      guard v.shape == t.shape else { throw StateDictError.shapeMismatch(name, expected: t.shape, found: v.shape) }
      t.assign(v)
    }
    if strict {
      let names = Set(own.map(\.0))
      if let extra = state.keys.sorted().first(where: { !names.contains($0) }) {
        throw StateDictError.unexpected(extra)
      }
    }
  }

  /// Sets training or evaluation mode, recursively.
  public func train(_ on: Bool = true) {
    isTraining = on
    for (_, c) in children { c.train(on) }
  }

  /// Evaluation mode, recursively.
  public func eval() { train(false) }

  /// The number of scalar parameters.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}

/// A state dict that does not fit a module.
public enum StateDictError: Error, CustomStringConvertible, Equatable {
  case missing(String)
  case unexpected(String)
  case shapeMismatch(String, expected: Shape, found: Shape)

  public var description: String {
    switch self {
    case .missing(let n): return "checkpoint has no tensor '\(n)'; was it saved from the same architecture?"
    case .unexpected(let n): return "checkpoint has a tensor '\(n)' that this architecture does not use"
    case .shapeMismatch(let n, let e, let f):
      return "tensor '\(n)' has shape \(f) in the checkpoint, the model expects \(e)"
    }
  }
}

/// Modules applied in order; children are named "0", "1", … as in PyTorch's `nn.Sequential`.
public final class Sequential: Module {
  /// The layers, in order.
  public let layers: [Module]

  public init(_ layers: [Module]) {
    self.layers = layers
    super.init()
  }

  public convenience init(_ layers: Module...) { self.init(layers) }

  public override var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }

  public override func forward(_ x: Tensor) -> Tensor { Fusion.apply(layers, x) }
}

/// `body(x) + shortcut(x)` (identity shortcut when nil), optionally followed by an activation, as in
/// a ResNet block. Children are named "body" and "shortcut".
public final class Residual: Module {
  public let body: Module
  public let shortcut: Module?
  public let post: Module?

  public init(_ body: Module, shortcut: Module? = nil, post: Module? = nil) {
    self.body = body
    self.shortcut = shortcut
    self.post = post
    super.init()
  }

  public override var children: [(String, Module)] {
    [("body", body)] + (shortcut.map { [("shortcut", $0)] } ?? [])
  }

  public override func forward(_ x: Tensor) -> Tensor {
    let y = body(x) + (shortcut?(x) ?? x)
    return post?(y) ?? y
  }
}

/// Wall time of leaf modules' forward passes by type and input shape, for finding slow layers. Any
/// thread may record; passes running at once each add their own time.
public enum LayerProfiler {
  private static let isOn = Locked(false)
  private static let totals = Locked<[String: UInt64]>([:])

  /// Whether leaf modules record their forward time.
  public static var enabled: Bool {
    get { isOn.current }
    set { isOn.current = newValue }
  }

  /// Nanoseconds by module type and input shape.
  public static var nanoseconds: [String: UInt64] { totals.current }

  static func add(_ key: String, _ ns: UInt64) { totals.withLock { $0[key, default: 0] += ns } }

  /// Clears the totals.
  public static func reset() { totals.withLock { $0 = [:] } }

  /// The totals in milliseconds, largest first.
  public static var report: String {
    nanoseconds.sorted { $0.value > $1.value }.map { String(format: "%9.2f ms  %@", Double($0.value) / 1e6, $0.key) }
      .joined(separator: "\n")
  }
}
