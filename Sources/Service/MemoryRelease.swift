// Returning freed heap memory to the system.
//
// glibc's malloc keeps freed chunks in per-thread arenas and only gives memory back at the top of the
// main heap, so after a burst of large batch buffers the resident size stays near its peak although
// nothing uses it. `malloc_trim(0)` releases the free pages of every arena (madvise), at the cost of
// page faults when they are needed again: done once per quiet spell, not per request. Its header
// (malloc.h) is not part of Swift's Glibc module, so the symbol is looked up at run time.

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

  /// Releases the allocator's free pages; a no-op where the C library has no `malloc_trim`.
  static func trim() { _ = mallocTrim?(0) }
}
