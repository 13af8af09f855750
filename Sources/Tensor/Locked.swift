import Foundation

/// A value behind a lock: the form of every process-wide setting, counter and cache of the engine that
/// any thread may read or change (a server runs inference from several request threads at once).
public final class Locked<Value>: @unchecked Sendable {
  private var value: Value
  private let lock = NSLock()

  /// A lock around `value`.
  public init(_ value: Value) { self.value = value }

  /// Runs `body` on the value with the lock held; keep it short and free of calls that take the lock.
  public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }

  /// The value (a copy, read under the lock).
  public var current: Value {
    get { withLock { $0 } }
    set { withLock { $0 = newValue } }
  }
}
