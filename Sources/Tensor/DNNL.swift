import CDNNL
import Foundation

/// The boundary to oneDNN 2.6: engine, per-thread streams, the primitive cache and memory descriptors.
/// oneDNN statuses become preconditions here (a failure is a programming error: shapes are checked
/// before any primitive is created).
enum DNNL {
  nonisolated(unsafe) static let engine: dnnl_engine_t = {
    var e: dnnl_engine_t?
    check(dnnl_engine_create(&e, dnnl_cpu, 0), "engine_create")
    return e!
  }()

  static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN \(what()) failed with status \(status.rawValue)")
  }

  /// Dimensions as oneDNN's `dnnl_dims_t` argument (12 entries).
  static func dims(_ d: [Int]) -> [Int64] {
    var out = [Int64](repeating: 0, count: 12)
    for (i, v) in d.enumerated() { out[i] = Int64(v) }
    return out
  }

  static func tag(_ layout: Layout, rank: Int) -> dnnl_format_tag_t {
    switch (layout, rank) {
    case (.plain, 1): return dnnl_a
    case (.plain, 2): return dnnl_ab
    case (.plain, 3): return dnnl_abc
    case (.plain, 4): return dnnl_abcd
    case (.nhwc, 4): return dnnl_acdb
    case (.nChw16c, 4): return dnnl_aBcd16b
    case (.nChw8c, 4): return dnnl_aBcd8b
    default: preconditionFailure("no oneDNN tag for layout \(layout) at rank \(rank)")
    }
  }

  /// A memory descriptor for a dense f32 tensor.
  static func md(_ shape: [Int], _ layout: Layout) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    var d = dims(shape)
    check(
      dnnl_memory_desc_init_by_tag(&md, Int32(shape.count), &d, dnnl_f32, tag(layout, rank: shape.count)),
      "memory_desc_init \(shape) \(layout)")
    return md
  }

  /// A descriptor with format `any`, for oneDNN to choose.
  static func anyMD(_ shape: [Int]) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    var d = dims(shape)
    check(dnnl_memory_desc_init_by_tag(&md, Int32(shape.count), &d, dnnl_f32, dnnl_format_tag_any), "any md")
    return md
  }

  /// The known dense, unpadded layout equal to `md`, or nil.
  static func layout(of md: dnnl_memory_desc_t, shape: [Int]) -> Layout? {
    var m = md
    for candidate: Layout in [.nChw16c, .plain, .nhwc, .nChw8c] {
      if candidate == .nChw16c && (shape.count != 4 || shape[1] % 16 != 0) { continue }
      if candidate == .nChw8c && (shape.count != 4 || shape[1] % 8 != 0) { continue }
      if (candidate == .nhwc) && shape.count != 4 { continue }
      var c = DNNL.md(shape, candidate)
      if dnnl_memory_desc_equal(&m, &c) != 0 { return candidate }
    }
    return nil
  }

  static func query(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
    guard let p = dnnl_primitive_desc_query_md(pd, what, index) else { return dnnl_memory_desc_t() }
    return p.pointee
  }

  static func size(_ md: dnnl_memory_desc_t) -> Int {
    var m = md
    return dnnl_memory_desc_get_size(&m)
  }
}

/// A created primitive with its descriptor, destroyed with it.
final class Primitive {
  let pd: dnnl_primitive_desc_t
  let primitive: dnnl_primitive_t
  /// Facts about the primitive decided at creation (chosen layouts), by name.
  var layouts: [String: Layout] = [:]
  var mds: [String: dnnl_memory_desc_t] = [:]
  /// Reorders that feed this primitive (weights into its chosen layout and back), by name.
  var reorders: [String: Primitive] = [:]
  /// Inference only: weights already reordered for this primitive, by tensor.
  var weightCache: [ObjectIdentifier: WeightCache] = [:]

  init(pd: dnnl_primitive_desc_t) {
    self.pd = pd
    var p: dnnl_primitive_t?
    DNNL.check(dnnl_primitive_create(&p, pd), "primitive_create")
    self.primitive = p!
  }

  /// Creates the primitive for an op descriptor, optionally with a forward hint.
  convenience init(
    desc: UnsafeRawPointer, hint: dnnl_primitive_desc_t? = nil, attr: dnnl_primitive_attr_t? = nil, what: String
  ) {
    var pd: dnnl_primitive_desc_t?
    DNNL.check(
      dnnl_primitive_desc_create(
        &pd, desc.assumingMemoryBound(to: dnnl_op_desc_t.self), attr,
        DNNL.engine, hint), "primitive_desc_create(\(what))")
    self.init(pd: pd!)
  }

  /// oneDNN's name of the implementation it picked ("jit:avx2", "ref:any", ...).
  var implementation: String {
    var s: UnsafePointer<CChar>? = nil
    guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success, let s else { return "" }
    return String(cString: s)
  }

  deinit {
    dnnl_primitive_destroy(primitive)
    dnnl_primitive_desc_destroy(pd)
  }

  /// Runs the primitive on this thread's stream. Each argument is a oneDNN argument id, the memory
  /// descriptor of the buffer and the buffer.
  func execute(_ args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]) {
    Threads.prepareCallingThread()
    let context = DNNLContext.current
    var memories: [dnnl_exec_arg_t] = []
    memories.reserveCapacity(args.count)
    for (arg, md, ptr) in args {
      var m = md
      var mem: dnnl_memory_t?
      DNNL.check(dnnl_memory_create(&mem, &m, DNNL.engine, ptr), "memory_create")
      memories.append(dnnl_exec_arg_t(arg: arg, memory: mem))
    }
    defer { for m in memories { dnnl_memory_destroy(m.memory) } }
    DNNL.check(dnnl_primitive_execute(primitive, context.stream, Int32(memories.count), &memories), "execute")
    DNNL.check(dnnl_stream_wait(context.stream), "stream_wait")
  }
}

/// Per-thread oneDNN state: a stream and the primitive cache. Primitives with library-managed
/// scratchpads must not run concurrently, so each thread keeps its own.
final class DNNLContext {
  let stream: dnnl_stream_t
  /// A primitive is made for one operation at one team size.
  struct Key: Hashable {
    var operation: String
    var threads: Int
  }
  var cache: [Key: Primitive] = [:]
  var hits = 0
  var misses = 0

  init() {
    var s: dnnl_stream_t?
    DNNL.check(dnnl_stream_create(&s, DNNL.engine, dnnl_stream_default_flags.rawValue), "stream_create")
    stream = s!
  }

  deinit {
    cache.removeAll()
    dnnl_stream_destroy(stream)
  }

  private static let key: pthread_key_t = {
    var k = pthread_key_t()
    pthread_key_create(&k) { ptr in if let ptr { Unmanaged<DNNLContext>.fromOpaque(ptr).release() } }
    return k
  }()

  static var current: DNNLContext {
    if let p = pthread_getspecific(key) { return Unmanaged<DNNLContext>.fromOpaque(p).takeUnretainedValue() }
    let c = DNNLContext()
    pthread_setspecific(key, Unmanaged.passRetained(c).toOpaque())
    return c
  }

  /// Drops the calling thread's primitives, with the scratchpads and reordered weights they hold; the next
  /// op creates them again (milliseconds per layer). For a long-lived thread that has gone idle.
  static func releaseCurrent() {
    guard let p = pthread_getspecific(key) else { return }
    Unmanaged<DNNLContext>.fromOpaque(p).takeUnretainedValue().cache.removeAll()
  }

  /// Primitives the calling thread holds.
  static var cachedOnCurrentThread: Int { current.cache.count }

  /// The cached primitive for `operation` at the calling thread's count, created by `make` on first use.
  static func primitive(_ operation: String, _ make: () -> Primitive) -> Primitive {
    let c = current
    // Some implementations balance their work over the team size known when they are created, so a
    // primitive made for one count is not reused under another (``Threads/withCount(_:_:)``).
    let key = Key(operation: operation, threads: Threads.count)
    if let p = c.cache[key] {
      c.hits += 1
      return p
    }
    c.misses += 1
    Threads.prepareCallingThread()
    let p = make()
    c.cache[key] = p
    return p
  }
}
