/// The logical shape of a tensor, outermost dimension first (NCHW for images).
///
/// The shape is independent of the physical layout: a tensor in oneDNN's blocked `nChw16c` layout
/// still has the logical shape `[N, C, H, W]`.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
  /// The dimensions, outermost first.
  public var dims: [Int]

  /// Creates a shape from its dimensions.
  public init(_ dims: [Int]) {
    precondition(dims.allSatisfy { $0 >= 0 }, "negative dimension in shape \(dims)")
    self.dims = dims
  }

  /// Creates a shape from an array literal, as in `[16, 3, 128, 128]`.
  public init(arrayLiteral elements: Int...) { self.init(elements) }

  /// The number of dimensions.
  public var rank: Int { dims.count }
  /// The number of elements.
  public var count: Int { dims.reduce(1, *) }
  /// The dimension at `i`; negative indices count from the end.
  public subscript(i: Int) -> Int { dims[i < 0 ? dims.count + i : i] }

  public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
