import COpenBLAS
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one thread setting of the engine: oneDNN's OpenMP team, the engine's own parallel loops and
/// the BLAS calls split over that team all follow it.
///
/// OpenBLAS itself runs single-threaded: its own worker threads spin (yielding) for a long while after
/// every call and take a core from OpenMP's team between oneDNN calls (ResNet-18 training at 2
/// threads ran 20–30 % slower). Large BLAS calls are split with ``ranges(_:work:minimumWork:_:)``.
public enum Threads {
  private typealias SetThreads = @convention(c) (Int32) -> Void
  nonisolated(unsafe) private static var current = 1

  /// The number of threads kernels may use.
  public static var count: Int { current }

  /// Sets the size of OpenMP's team, which oneDNN and the engine's parallel loops and BLAS bands use
  /// (OpenBLAS itself stays single-threaded).
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
    openblas_set_num_threads(1)
  }

  /// Runs `body` on contiguous parts of `0..<n`, one per thread of OpenMP's team, or on `0..<n` at
  /// once when `work` (multiply-adds, elements, …) does not give each part `minimumWork`.
  public static func ranges(_ n: Int, work: Int, minimumWork: Int = 1 << 20, _ body: (Range<Int>) -> Void) {
    let parts = max(1, min(count, n, work / max(minimumWork, 1)))
    guard parts > 1 else {
      if n > 0 { body(0..<n) }
      return
    }
    team(n, parts, body)
  }

  /// Runs `body(i)` for `i` in `0..<n`, split over ``count`` threads.
  ///
  /// The work runs on OpenMP's thread team (through libgomp's `GOMP_parallel`, the entry point of
  /// `#pragma omp parallel`), the team oneDNN uses: a second pool would compete with OpenMP threads
  /// that spin-wait after each oneDNN call, and two threads on two cores would then share one.
  public static func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    let teams = min(current, n)
    if teams <= 1 {
      for i in 0..<n { body(i) }
      return
    }
    team(n, teams) { range in for i in range { body(i) } }
  }

  /// Runs `body` on `teams` contiguous shares of `0..<n` at once, share `t` on thread `t` of the team.
  private static func team(_ n: Int, _ teams: Int, _ body: (Range<Int>) -> Void) {
    withoutActuallyEscaping(body) { body in
      let job = ParallelJob(n: n, teams: teams, body: body)
      if let gomp = OpenMP.parallel, OpenMP.threadNum != nil {
        let context = Unmanaged.passRetained(job).toOpaque()
        gomp(
          { raw in
            let job = Unmanaged<ParallelJob>.fromOpaque(raw!).takeUnretainedValue()
            job.run(Int(OpenMP.threadNum!()))
          }, context, UInt32(teams), 0)
        Unmanaged<ParallelJob>.fromOpaque(context).release()
      } else {
        DispatchQueue.concurrentPerform(iterations: teams) { job.run($0) }
      }
    }
  }
}

/// One parallel call: thread `t` of `teams` runs its contiguous share of `0..<n`.
private final class ParallelJob {
  let n: Int
  let teams: Int
  let body: (Range<Int>) -> Void

  init(n: Int, teams: Int, body: @escaping (Range<Int>) -> Void) {
    self.n = n
    self.teams = teams
    self.body = body
  }

  func run(_ t: Int) {
    guard t < teams else { return }
    body((n * t / teams)..<(n * (t + 1) / teams))
  }
}

/// libgomp entry points, looked up in the process (oneDNN loads libgomp).
private enum OpenMP {
  typealias Parallel =
    @convention(c) (
      @convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32
    ) -> Void
  typealias ThreadNum = @convention(c) () -> Int32

  static let parallel: Parallel? = dlsym(nil, "GOMP_parallel").map { unsafeBitCast($0, to: Parallel.self) }
  static let threadNum: ThreadNum? = dlsym(nil, "omp_get_thread_num").map { unsafeBitCast($0, to: ThreadNum.self) }
}
