// Returning freed memory to the system.
//
// The engine's tensor buffers go back to its caching pool (`BufferPool`), which keeps them for the next
// batch of the same shape, and oneDNN primitives (one per batch size and layer) hold their scratchpads and
// a copy of the weights each: after a burst of batches of 1 to 8 images that is most of the peak. And
// glibc's malloc keeps freed chunks in per-thread arenas and only gives memory back at the top of the
// main heap, so after a burst of large batch buffers the resident size stays near its peak although
// nothing uses it. `malloc_trim(0)` releases the free pages of every arena (madvise), at the cost of
// page faults when they are needed again: done once per quiet spell, not per request. Its header
// (malloc.h) is not part of Swift's Glibc module, so the symbol is looked up at run time.

import Tensor

#if canImport(Glibc)
  import Glibc
#endif

/// Hands freed heap pages back to the operating system.
enum MemoryRelease {
  private typealias MallocTrim = @convention(c) (Int) -> Int32

  private static let mallocTrim: MallocTrim? = {
    #if canImport(Glibc)
      return dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: MallocTrim.self) }
    #else
      return nil
    #endif
  }()

  /// Empties the tensor buffer pool and the oneDNN primitives of the calling worker and of its OpenMP
  /// team (where its lanes made theirs), then releases the allocator's free pages (a no-op where the C
  /// library has no `malloc_trim`). Buffers in use are untouched; the next batch allocates afresh.
  static func trim() {
    BufferPool.shared.trimForIdleThread()
    _ = mallocTrim?(0)
  }
}
