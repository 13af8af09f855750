import COpenBLAS
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one thread setting of the engine: oneDNN's OpenMP pool, OpenBLAS and the engine's own
/// `concurrentPerform` loops all follow it.
public enum Threads {
  private typealias SetThreads = @convention(c) (Int32) -> Void
  nonisolated(unsafe) private static var current = 1

  /// The number of threads kernels may use.
  public static var count: Int { current }

  /// Sets the number of threads for every library the engine calls.
  ///
  /// OpenMP's setting is per calling thread, so a worker thread that runs one model single-threaded
  /// calls `Threads.set(1)` itself.
  public static func set(_ n: Int) {
    precondition(n >= 1, "thread count must be at least 1, got \(n)")
    current = n
    // oneDNN's OpenMP runtime is loaded with libdnnl; looking the symbol up avoids linking libgomp.
    if let sym = dlsym(nil, "omp_set_num_threads") {
      unsafeBitCast(sym, to: SetThreads.self)(Int32(n))
    }
    openblas_set_num_threads(Int32(n))
  }

  /// Runs `body(i)` for `i` in `0..<n`, split over ``count`` threads.
  public static func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    if current <= 1 || n <= 1 {
      for i in 0..<n { body(i) }
      return
    }
    let chunks = min(current, n)
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
      let lo = n * c / chunks
      let hi = n * (c + 1) / chunks
      for i in lo..<hi { body(i) }
    }
  }
}
