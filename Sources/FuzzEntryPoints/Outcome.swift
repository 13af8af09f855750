/// What one input did to a reader. `accepted` and `refused` keep the reader's contract; the other two
/// are bugs, which the fuzz targets turn into crashes and the regression tests into failures.
public enum Outcome {
  /// The reader returned a result that keeps its promises.
  case accepted
  /// The reader threw its own typed error (the associated value), as it must for a bad input.
  case refused(any Error)
  /// The reader threw an error of another type, which a command could only report as an unknown failure.
  case untyped(any Error)
  /// The reader returned, but its result breaks a promise it makes (the message says which).
  case broken(String)

  /// Why this outcome breaks the readers' contract; nil when it keeps it.
  public var bug: String? {
    switch self {
    case .accepted, .refused: return nil
    case .untyped(let error): return "untyped error \(type(of: error)): \(error)"
    case .broken(let promise): return "result breaks its promise: \(promise)"
    }
  }

  /// Runs `body`, sorting what it throws into the reader's error type `E` and everything else.
  static func of<E: Error>(_ type: E.Type, _ body: () throws -> Outcome) -> Outcome {
    do { return try body() } catch let error as E { return .refused(error) } catch { return .untyped(error) }
  }
}
