import COpenBLAS
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one thread setting of the engine: oneDNN's OpenMP team, the engine's own parallel loops and
/// the BLAS calls split over that team all follow it, from the first kernel on.
///
/// The count is process-wide. Until ``set(_:)`` is called it is ``defaultCount`` (`MODELPRINT_THREADS`,
/// else the first value of `OMP_NUM_THREADS`, else every core), resolved when a kernel first asks.
/// OpenMP keeps its team size per calling thread, so each thread that runs oneDNN applies the count to
/// itself before its next primitive (``prepareCallingThread()``); a server's request threads therefore
/// follow it too, each with its own OpenMP team.
///
/// OpenBLAS itself runs single-threaded: its own worker threads spin (yielding) for a long while after
/// every call and take a core from OpenMP's team between oneDNN calls (ResNet-18 training at 2
/// threads ran 20–30 % slower). Large BLAS calls are split with ``ranges(_:work:minimumWork:_:)``.
public enum Threads {
  private typealias SetThreads = @convention(c) (Int32) -> Void

  /// The count, and how many times it has been set (a thread's OpenMP setting is current when it was
  /// applied at the same generation).
  private struct Setting {
    var count: Int
    var generation: Int
  }

  private static let setting = Locked<Setting?>(nil)

  /// The number of threads kernels may use: the calling thread's own count inside
  /// ``withCount(_:_:)``, else the process-wide one.
  public static var count: Int {
    let local = Int(bitPattern: pthread_getspecific(localKey))
    return local > 0 ? local : resolved().count
  }

  /// Runs `body` with `n` as the calling thread's count: its parallel loops, BLAS bands and oneDNN
  /// primitives use teams of `n` while other threads keep theirs.
  ///
  /// For work split into independent lanes at a level above the kernels (the server's lanes of windows,
  /// one thread each): a lane that ran every layer on a team of its own would put more threads than cores
  /// to work and make each layer's barrier wait for a thread that is not running.
  public static func withCount<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
    precondition(n >= 1, "thread count must be at least 1, got \(n)")
    let previous = pthread_getspecific(localKey)
    pthread_setspecific(localKey, UnsafeRawPointer(bitPattern: n))
    defer {
      pthread_setspecific(localKey, previous)
      // OpenMP's setting must be given again when the process-wide count applies once more.
      pthread_setspecific(appliedKey, nil)
    }
    return try body()
  }

  /// The count used until ``set(_:)`` is called: `MODELPRINT_THREADS`, else the first value of
  /// `OMP_NUM_THREADS` (OpenMP's own convention), else every core. A value that is not a positive
  /// integer is passed over, with a warning on standard error when the count is first resolved.
  public static var defaultCount: Int {
    defaultCount(environment: ProcessInfo.processInfo.environment, cores: ProcessInfo.processInfo.activeProcessorCount)
      .count
  }

  /// ``defaultCount`` for a given environment and core count, with a line for each variable passed over.
  public static func defaultCount(environment: [String: String], cores: Int) -> (count: Int, ignored: [String]) {
    var ignored: [String] = []
    for name in ["MODELPRINT_THREADS", "OMP_NUM_THREADS"] {
      guard let raw = environment[name] else { continue }
      // OMP_NUM_THREADS may list one count per nesting level ("4,2"); the first is the outer team's.
      let first = raw.split(separator: ",", omittingEmptySubsequences: false).first.map(String.init) ?? ""
      if let n = Int(first.trimmingCharacters(in: .whitespaces)), n >= 1 { return (n, ignored) }
      ignored.append("\(name)='\(raw)' is not a positive thread count; ignored")
    }
    return (max(cores, 1), ignored)
  }

  /// Sets the process-wide thread count: the size of OpenMP's team, which oneDNN and the engine's
  /// parallel loops and BLAS bands use (OpenBLAS itself stays single-threaded). Other threads pick it
  /// up before their next oneDNN primitive.
  public static func set(_ n: Int) {
    precondition(n >= 1, "thread count must be at least 1, got \(n)")
    _ = resolved()
    setting.withLock { s in s = Setting(count: n, generation: (s?.generation ?? 0) + 1) }
    prepareCallingThread()
  }

  /// Makes the calling thread's OpenMP team size equal ``count`` (cheap when it already does). Every
  /// oneDNN primitive runs after it, since oneDNN sizes its team from the calling thread's setting.
  public static func prepareCallingThread() {
    let local = Int(bitPattern: pthread_getspecific(localKey))
    if local > 0 {
      // Always given: a thread of an OpenMP team does not keep its setting from one region to the next.
      setOpenMPThreads(local)
      return
    }
    let s = resolved()
    let applied = Int(bitPattern: pthread_getspecific(appliedKey))
    guard applied != s.generation else { return }
    setOpenMPThreads(s.count)
    pthread_setspecific(appliedKey, UnsafeRawPointer(bitPattern: s.generation))
  }

  /// oneDNN's OpenMP runtime is loaded with libdnnl; looking the symbol up avoids linking libgomp.
  private static let setOpenMPThreadsSymbol: SetThreads? = dlsym(nil, "omp_set_num_threads").map {
    unsafeBitCast($0, to: SetThreads.self)
  }

  private static func setOpenMPThreads(_ n: Int) { setOpenMPThreadsSymbol?(Int32(n)) }

  /// The setting, resolved from ``defaultCount`` on first use.
  private static func resolved() -> Setting {
    var warnings: [String] = []
    let s = setting.withLock { s -> Setting in
      if let s { return s }
      let (n, ignored) = defaultCount(
        environment: ProcessInfo.processInfo.environment, cores: ProcessInfo.processInfo.activeProcessorCount)
      warnings = ignored
      // Once, before any BLAS call: OpenBLAS's own pool would otherwise start with a thread per core.
      openblas_set_num_threads(1)
      let resolved = Setting(count: n, generation: 1)
      s = resolved
      return resolved
    }
    for w in warnings { FileHandle.standardError.write(Data((w + "\n").utf8)) }
    return s
  }

  /// The calling thread's own count inside ``withCount(_:_:)`` (0: none).
  private static let localKey = makeKey()

  /// The generation whose count this thread last gave OpenMP (0: none yet).
  private static let appliedKey = makeKey()

  /// A thread-specific slot holding a plain integer (no destructor: nothing to free).
  private static func makeKey() -> pthread_key_t {
    var k = pthread_key_t()
    pthread_key_create(&k, nil)
    return k
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
    let teams = min(count, n)
    if teams <= 1 {
      for i in 0..<n { body(i) }
      return
    }
    team(n, teams) { range in for i in range { body(i) } }
  }

  /// Runs `body` on `shares` contiguous shares of `0..<n` at once. Every share runs whatever team
  /// OpenMP actually forms: inside another parallel region, under `OMP_THREAD_LIMIT` or with
  /// `OMP_DYNAMIC` it may be smaller than asked, and thread t of a team of m runs shares t, t + m, ….
  private static func team(_ n: Int, _ shares: Int, _ body: (Range<Int>) -> Void) {
    withoutActuallyEscaping(body) { body in
      let job = ParallelJob(n: n, shares: shares, body: body)
      if let gomp = OpenMP.parallel, OpenMP.threadNum != nil, OpenMP.numThreads != nil {
        let context = Unmanaged.passRetained(job).toOpaque()
        gomp(
          { raw in
            let job = Unmanaged<ParallelJob>.fromOpaque(raw!).takeUnretainedValue()
            job.run(thread: Int(OpenMP.threadNum!()), of: Int(OpenMP.numThreads!()))
          }, context, UInt32(shares), 0)
        Unmanaged<ParallelJob>.fromOpaque(context).release()
      } else {
        // Dispatch runs every iteration exactly once on however many threads it has.
        DispatchQueue.concurrentPerform(iterations: shares) { job.run(thread: $0, of: shares) }
      }
    }
  }
}

/// One parallel call: `0..<n` in `shares` contiguous shares, shared out over a team of any size.
final class ParallelJob {
  let n: Int
  let shares: Int
  let body: (Range<Int>) -> Void

  init(n: Int, shares: Int, body: @escaping (Range<Int>) -> Void) {
    self.n = n
    self.shares = shares
    self.body = body
  }

  /// Share s covers `n·s/shares ..< n·(s+1)/shares`.
  func share(_ s: Int) -> Range<Int> { (n * s / shares)..<(n * (s + 1) / shares) }

  /// Runs the shares of thread `t` of a team of `m`: t, t + m, t + 2m, …
  func run(thread t: Int, of m: Int) {
    precondition(m >= 1 && t >= 0 && t < m, "ParallelJob: thread \(t) of a team of \(m)")
    for s in stride(from: t, to: shares, by: m) { body(share(s)) }
  }
}

/// libgomp entry points, looked up in the process (oneDNN loads libgomp).
private enum OpenMP {
  typealias Parallel =
    @convention(c) (
      @convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32
    ) -> Void
  typealias ThreadQuery = @convention(c) () -> Int32

  static let parallel: Parallel? = dlsym(nil, "GOMP_parallel").map { unsafeBitCast($0, to: Parallel.self) }
  static let threadNum: ThreadQuery? = dlsym(nil, "omp_get_thread_num").map {
    unsafeBitCast($0, to: ThreadQuery.self)
  }
  static let numThreads: ThreadQuery? = dlsym(nil, "omp_get_num_threads").map {
    unsafeBitCast($0, to: ThreadQuery.self)
  }
}
