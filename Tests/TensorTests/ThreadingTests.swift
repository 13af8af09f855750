import Foundation
import XCTest

@testable import Tensor

/// The thread layer covers every index exactly once whatever team OpenMP forms, and the thread count
/// holds on every thread that runs kernels.
final class ThreadingTests: XCTestCase {
  override func tearDown() {
    Threads.set(1)
    super.tearDown()
  }

  /// Per-index visit counts of `body`, which gets a function that records index `i`.
  func visits(_ n: Int, _ body: (_ record: @escaping (Int) -> Void) -> Void) -> [Int] {
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
    counts.initialize(repeating: 0, count: n)
    defer { counts.deallocate() }
    let lock = NSLock()
    body { i in
      lock.lock()
      counts[i] += 1
      lock.unlock()
    }
    return Array(UnsafeBufferPointer(start: counts, count: n))
  }

  /// Inside a parallel region OpenMP forms a team of one for a nested region (nesting is off by
  /// default); a loop there must still run every share, not only the first thread's.
  func testNestedLoopsCoverEveryIndexOnce() {
    Threads.set(4)
    let outer = 4
    let inner = 103
    let counts = visits(outer * inner) { record in
      Threads.parallelFor(outer) { o in
        Threads.parallelFor(inner) { i in record(o * inner + i) }
      }
    }
    XCTAssertEqual(counts, [Int](repeating: 1, count: outer * inner))
    let ranged = visits(outer * inner) { record in
      Threads.parallelFor(outer) { o in
        Threads.ranges(inner, work: inner, minimumWork: 1) { r in for i in r { record(o * inner + i) } }
      }
    }
    XCTAssertEqual(ranged, [Int](repeating: 1, count: outer * inner))
  }

  /// Every share of a job runs once for any team size, smaller or larger than the shares.
  func testEveryTeamSizeRunsEveryShareOnce() {
    for shares in [1, 2, 5, 8] {
      for team in 1...10 {
        let n = 37
        let counts = visits(n) { record in
          let job = ParallelJob(n: n, shares: shares) { r in for i in r { record(i) } }
          for t in 0..<team { job.run(thread: t, of: team) }
        }
        XCTAssertEqual(counts, [Int](repeating: 1, count: n), "\(shares) shares on a team of \(team)")
      }
    }
  }

  func testDefaultCountFollowsTheEnvironment() {
    XCTAssertEqual(Threads.defaultCount(environment: [:], cores: 6).count, 6)
    XCTAssertEqual(Threads.defaultCount(environment: ["OMP_NUM_THREADS": "3"], cores: 6).count, 3)
    XCTAssertEqual(Threads.defaultCount(environment: ["OMP_NUM_THREADS": "4,2"], cores: 6).count, 4)
    XCTAssertEqual(
      Threads.defaultCount(environment: ["MODELPRINT_THREADS": "2", "OMP_NUM_THREADS": "3"], cores: 6).count, 2)
    let bad = Threads.defaultCount(environment: ["MODELPRINT_THREADS": "0", "OMP_NUM_THREADS": "x"], cores: 5)
    XCTAssertEqual(bad.count, 5)
    XCTAssertEqual(bad.ignored.count, 2)
    XCTAssertTrue(bad.ignored[0].contains("MODELPRINT_THREADS"), bad.ignored[0])
  }

  /// OpenMP keeps its team size per thread: a thread that never called `Threads.set` still runs
  /// oneDNN with the engine's count.
  func testAnotherThreadUsesTheConfiguredCount() throws {
    typealias MaxThreads = @convention(c) () -> Int32
    let sym = try XCTUnwrap(dlsym(nil, "omp_get_max_threads"), "libgomp is loaded with oneDNN")
    let maxThreads = unsafeBitCast(sym, to: MaxThreads.self)
    for n in [3, 1] {
      Threads.set(n)
      let seen = Locked<Int32>(0)
      let done = DispatchSemaphore(value: 0)
      Thread.detachNewThread {
        // What a oneDNN primitive does first on any thread.
        Threads.prepareCallingThread()
        seen.current = maxThreads()
        done.signal()
      }
      done.wait()
      XCTAssertEqual(seen.current, Int32(n))
    }
  }

  /// A thread's own count holds inside `withCount` only, nests, and leaves other threads on the
  /// process-wide count.
  func testWithCountHoldsOnTheCallingThreadOnly() {
    Threads.set(2)
    Threads.withCount(1) {
      XCTAssertEqual(Threads.count, 1)
      Threads.withCount(3) { XCTAssertEqual(Threads.count, 3) }
      XCTAssertEqual(Threads.count, 1)
      let other = Locked<Int?>(nil)
      let done = DispatchSemaphore(value: 0)
      Thread {
        other.withLock { $0 = Threads.count }
        done.signal()
      }.start()
      done.wait()
      XCTAssertEqual(other.current, 2)
      // A loop inside the scope runs on the calling thread alone, and still covers every index.
      let counts = visits(37) { record in Threads.parallelFor(37) { record($0) } }
      XCTAssertEqual(counts, [Int](repeating: 1, count: 37))
    }
    XCTAssertEqual(Threads.count, 2)
  }

  /// Lanes of one thread each run oneDNN primitives made for a team of one, beside the calling thread's
  /// primitives for the whole team: the same convolution gives the same values both ways.
  func testPrimitivesFollowTheThreadsOwnCount() {
    Threads.set(2)
    var rng = RNG(seed: 21)
    let x = Tensor.uniform([4, 8, 12, 12], -1, 1, rng: &rng)
    let w = Tensor.uniform([8, 8, 3, 3], -1, 1, rng: &rng)
    let whole = conv2d(x, weight: w, padding: 1).array
    let lanes = Locked<[[Float]]>([[], []])
    Threads.parallelFor(2) { l in
      let y = Threads.withCount(1) { conv2d(x, weight: w, padding: 1).array }
      lanes.withLock { $0[l] = y }
    }
    // One 3·3·8 = 72-term sum per output, in an order the kernel's blocking picks: a reordering moves
    // it by at most 72 · 2⁻²⁴ times the sum of the terms' magnitudes, at most 72 (|x|, |w| ≤ 1).
    for y in lanes.current {
      XCTAssertEqual(y.count, whole.count)
      for (a, b) in zip(y, whole) { XCTAssertEqual(a, b, accuracy: 72 * 0x1p-24 * 72) }
    }
  }
}
