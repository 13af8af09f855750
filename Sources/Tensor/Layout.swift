/// The physical order of a 4-D activation's elements in memory.
///
/// Convolution-heavy networks keep activations in the blocked layout oneDNN picks (`nChw16c` on
/// AVX-512) and reorder only at a network's edges; every other tensor is `plain` (row-major over the
/// logical shape). Only dense layouts without padding are used, so elementwise kernels can run over
/// the raw buffer of any two tensors that share a layout.
public enum Layout: Hashable, Sendable {
  /// Row-major over the logical shape (NCHW for 4-D tensors).
  case plain
  /// Channels last.
  case nhwc
  /// Channels in blocks of 16, innermost (`nChw16c`); the channel count is a multiple of 16.
  case nChw16c
  /// Channels in blocks of 8, innermost (`nChw8c`); the channel count is a multiple of 8.
  case nChw8c
}

/// Engine-wide layout policy. Any thread may change it; a kernel already running keeps the layout it
/// chose, the next one follows the new setting.
public enum LayoutPolicy {
  private static let blocked = Locked(true)

  /// Whether convolutions may pick blocked output layouts (format `any`). Off forces plain NCHW
  /// activations everywhere, for comparisons and debugging.
  public static var allowBlocked: Bool {
    get { blocked.current }
    set { blocked.current = newValue }
  }
}

/// Where a tensor's memory lives. Only the CPU exists today; kernels dispatch on this so that a GPU
/// backend can be added without touching the layers.
public enum Device: Hashable, Sendable {
  case cpu
}
