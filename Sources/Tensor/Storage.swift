import Foundation

/// A 64-byte aligned Float32 buffer that returns its memory to ``BufferPool`` when released.
public final class Storage: @unchecked Sendable {
  /// The first element.
  public let pointer: UnsafeMutablePointer<Float>
  /// Capacity in elements (the pool's size class, at least what was asked for).
  public let capacity: Int

  init(capacity: Int) {
    self.capacity = capacity
    self.pointer = BufferPool.shared.take(capacity)
  }

  deinit { BufferPool.shared.give(pointer, capacity) }
}

/// A caching allocator for tensor buffers.
///
/// Freed buffers are kept by size class and handed out again, so a training step allocates no new
/// large buffers after the first: fresh pages cost a page fault each, which is where a general-purpose
/// allocator loses most of its time in a training loop.
public final class BufferPool: @unchecked Sendable {
  /// The process-wide pool.
  public static let shared = BufferPool()

  // Every stored property below is read and written under `lock`: buffers are taken and given back by
  // any thread.
  private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
  private var cachedBytes = 0
  private let lock = NSLock()
  private var limit = 8 << 30
  private var allocations = 0

  /// Bytes kept for reuse at most; buffers beyond it are returned to the system.
  public var limitBytes: Int {
    get { locked { limit } }
    set { locked { limit = newValue } }
  }

  /// Counters for tests and benchmarks.
  public var systemAllocations: Int { locked { allocations } }

  private func locked<R>(_ body: () -> R) -> R {
    lock.lock()
    defer { lock.unlock() }
    return body()
  }

  /// Size classes: exact below 4 Ki elements, else rounded up to 1/8 of the power of two, so that
  /// slightly different shapes share buffers while waste stays under 12.5 %.
  static func sizeClass(_ n: Int) -> Int {
    if n <= 4096 { return max(16, (n + 15) & ~15) }
    let p = Int.bitWidth - (n - 1).leadingZeroBitCount
    let step = 1 << max(p - 4, 4)
    return (n + step - 1) / step * step
  }

  func take(_ capacity: Int) -> UnsafeMutablePointer<Float> {
    lock.lock()
    if var list = free[capacity], let p = list.popLast() {
      free[capacity] = list
      cachedBytes -= capacity * 4
      lock.unlock()
      return p
    }
    allocations += 1
    lock.unlock()
    var raw: UnsafeMutableRawPointer?
    let status = posix_memalign(&raw, 64, max(capacity, 1) * MemoryLayout<Float>.stride)
    precondition(status == 0 && raw != nil, "out of memory allocating \(capacity) floats")
    return raw!.bindMemory(to: Float.self, capacity: capacity)
  }

  func give(_ p: UnsafeMutablePointer<Float>, _ capacity: Int) {
    lock.lock()
    if cachedBytes + capacity * 4 <= limit {
      free[capacity, default: []].append(p)
      cachedBytes += capacity * 4
      lock.unlock()
      return
    }
    lock.unlock()
    Foundation.free(p)
  }

  /// Returns every cached buffer to the system, and the oneDNN primitives of the calling thread and of
  /// its OpenMP team (their scratchpads and inference copies of the weights in the primitive's layout, one
  /// per input shape and thread count): what a server's worker holds after a burst of batches of several
  /// sizes. The team's threads count because lanes (``Threads/withCount(_:_:)``) create primitives on
  /// each of them.
  public func trimForIdleThread() {
    // Thread 0 of the team is the calling thread; with one thread the body runs on it alone.
    Threads.parallelFor(Threads.count) { _ in DNNLContext.releaseCurrent() }
    trim()
  }

  /// Returns every cached buffer to the system.
  public func trim() {
    lock.lock()
    let all = free
    free = [:]
    cachedBytes = 0
    lock.unlock()
    for (_, list) in all { for p in list { Foundation.free(p) } }
  }
}
