import Foundation

/// A Float32 tensor with a logical shape, a physical layout and an optional autodiff history.
///
/// Tensors are reference types so that the autodiff graph can point at them; their values are
/// immutable once an op has produced them, except through the explicitly named in-place methods used
/// by optimizers.
public final class Tensor: @unchecked Sendable {
  /// The logical shape (NCHW for images).
  public let shape: Shape
  /// The physical element order; see ``Layout``.
  public let layout: Layout
  /// Where the memory lives.
  public let device: Device
  /// The underlying buffer, shared by views.
  public let storage: Storage
  /// Offset of the first element in ``storage``, in elements.
  public let offset: Int

  /// Whether gradients flow to this tensor. Set on leaves (parameters, inputs) by the user and on op
  /// results by the engine.
  public var requiresGrad: Bool
  /// The accumulated gradient of a leaf after ``backward(_:)``, in this tensor's layout.
  public var grad: Tensor?
  /// The op that produced this tensor, when it was recorded for autodiff.
  var node: Node?
  /// Bumped whenever the values change in place (optimizer steps, ``assign(_:)``, running statistics),
  /// so that caches derived from the values (reordered or folded inference weights) know when to refresh.
  public private(set) var version = 0

  /// Records an in-place change of the values; call it after writing through ``pointer``.
  public func markModified() { version &+= 1 }

  /// Creates an uninitialised tensor.
  public init(uninitialized shape: Shape, layout: Layout = .plain) {
    Tensor.checkLayout(shape, layout)
    self.shape = shape
    self.layout = layout
    self.device = .cpu
    self.storage = Storage(capacity: BufferPool.sizeClass(shape.count))
    self.offset = 0
    self.requiresGrad = false
  }

  init(shape: Shape, layout: Layout, storage: Storage, offset: Int) {
    self.shape = shape
    self.layout = layout
    self.device = .cpu
    self.storage = storage
    self.offset = offset
    self.requiresGrad = false
  }

  /// Creates a plain tensor from values in row-major order.
  public convenience init(_ values: [Float], shape: Shape) {
    precondition(values.count == shape.count, "\(values.count) values do not fill shape \(shape)")
    self.init(uninitialized: shape)
    values.withUnsafeBufferPointer { src in
      pointer.update(from: src.baseAddress!, count: values.count)
    }
  }

  /// A tensor of zeros.
  public static func zeros(_ shape: Shape, layout: Layout = .plain) -> Tensor {
    let t = Tensor(uninitialized: shape, layout: layout)
    t.pointer.initialize(repeating: 0, count: shape.count)
    return t
  }

  /// A tensor filled with `value`.
  public static func full(_ shape: Shape, _ value: Float) -> Tensor {
    let t = Tensor(uninitialized: shape)
    t.pointer.initialize(repeating: value, count: shape.count)
    return t
  }

  /// Uniform values in [low, high), drawn serially from `rng`.
  public static func uniform(_ shape: Shape, _ low: Float = 0, _ high: Float = 1, rng: inout RNG) -> Tensor {
    let t = Tensor(uninitialized: shape)
    for i in 0..<shape.count { t.pointer[i] = rng.uniform(low, high) }
    return t
  }

  /// Standard-normal values times `std`, drawn serially from `rng`.
  public static func normal(_ shape: Shape, std: Float = 1, rng: inout RNG) -> Tensor {
    let t = Tensor(uninitialized: shape)
    for i in 0..<shape.count { t.pointer[i] = rng.normal() * std }
    return t
  }

  /// The first element of this tensor's memory.
  public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }
  /// The number of elements.
  public var count: Int { shape.count }

  /// The values in logical row-major order (reorders blocked tensors).
  public var array: [Float] {
    let p = toLayout(.plain, differentiable: false)
    return Array(UnsafeBufferPointer(start: p.pointer, count: count))
  }

  /// The only element of a one-element tensor.
  public var item: Float {
    precondition(count == 1, "item() needs a one-element tensor, shape is \(shape)")
    return pointer[0]
  }

  /// A tensor sharing this one's memory with another shape of the same element count (plain only).
  public func reshaped(_ newShape: Shape) -> Tensor {
    precondition(newShape.count == count, "cannot reshape \(shape) to \(newShape)")
    let src = layout == .plain ? self : toLayout(.plain)
    return reshapeOp(src, newShape)
  }

  /// Samples `range` of the outermost dimension, sharing memory. Every supported layout keeps each
  /// sample contiguous, so batch views are free.
  public func batch(_ range: Range<Int>) -> Tensor {
    precondition(
      shape.rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
      "batch range \(range) out of bounds for shape \(shape)")
    var dims = shape.dims
    dims[0] = range.count
    let per = count / max(shape[0], 1)
    return Tensor(shape: Shape(dims), layout: layout, storage: storage, offset: offset + range.lowerBound * per)
  }

  /// A detached copy of the values (no autodiff history), in the same layout.
  public func copy() -> Tensor {
    let t = Tensor(uninitialized: shape, layout: layout)
    t.pointer.update(from: pointer, count: count)
    return t
  }

  /// This tensor's values without autodiff history, sharing memory.
  public func detached() -> Tensor {
    Tensor(shape: shape, layout: layout, storage: storage, offset: offset)
  }

  /// Copies `other`'s values into this tensor (same shape; reorders when the layouts differ).
  public func assign(_ other: Tensor) {
    precondition(other.shape == shape, "assign: shape \(other.shape) does not match \(shape)")
    let src = other.layout == layout ? other : other.toLayout(layout, differentiable: false)
    pointer.update(from: src.pointer, count: count)
    markModified()
  }

  static func checkLayout(_ shape: Shape, _ layout: Layout) {
    switch layout {
    case .plain: break
    case .nhwc: precondition(shape.rank == 4, "nhwc needs a 4-D shape, got \(shape)")
    case .nChw16c:
      precondition(shape.rank == 4 && shape[1] % 16 == 0, "nChw16c needs 4-D with C % 16 == 0, got \(shape)")
    case .nChw8c:
      precondition(shape.rank == 4 && shape[1] % 8 == 0, "nChw8c needs 4-D with C % 8 == 0, got \(shape)")
    }
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let values = array
    let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor(\(shape), \(layout)\(values.count > 8 ? ", [\(shown), …]" : ", [\(shown)]"))"
  }
}
