import CDNNL

extension Primitive {
  /// A reorder primitive between two descriptors.
  static func reorder(from src: dnnl_memory_desc_t, to dst: dnnl_memory_desc_t) -> Primitive {
    var s = src
    var d = dst
    var pd: dnnl_primitive_desc_t?
    DNNL.check(dnnl_reorder_primitive_desc_create(&pd, &s, DNNL.engine, &d, DNNL.engine, nil), "reorder_pd")
    return Primitive(pd: pd!)
  }

  /// Runs this reorder.
  func reorder(
    _ src: UnsafeMutableRawPointer, _ srcMD: dnnl_memory_desc_t, _ dst: UnsafeMutableRawPointer,
    _ dstMD: dnnl_memory_desc_t
  ) {
    execute([(DNNL_ARG_FROM, srcMD, src), (DNNL_ARG_TO, dstMD, dst)])
  }
}

/// A buffer in a layout chosen by oneDNN (for example blocked convolution weights), kept alive with
/// its storage.
struct OpaqueBuffer {
  let storage: Storage
  let md: dnnl_memory_desc_t
  var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(storage.pointer) }

  init(md: dnnl_memory_desc_t) {
    self.md = md
    self.storage = Storage(capacity: BufferPool.sizeClass((DNNL.size(md) + 3) / 4))
  }
}

extension Primitive {
  /// `tensor`'s values in the layout `md` this primitive wants: the tensor itself when it matches,
  /// else a reordered copy (the reorder primitive is cached on this primitive under `name`).
  func adapt(_ tensor: Tensor, plainMD: dnnl_memory_desc_t, to md: dnnl_memory_desc_t, name: String)
    -> (UnsafeMutableRawPointer, Storage?)
  {
    var a = plainMD
    var b = md
    if dnnl_memory_desc_equal(&a, &b) != 0 { return (UnsafeMutableRawPointer(tensor.pointer), nil) }
    let r = reorderCache(name) { Primitive.reorder(from: plainMD, to: md) }
    let out = OpaqueBuffer(md: md)
    r.reorder(UnsafeMutableRawPointer(tensor.pointer), plainMD, out.pointer, md)
    return (out.pointer, out.storage)
  }

  /// `weights` in this primitive's weight layout, reordered once per weights version: each entry holds
  /// its tensor, so the identity it is keyed by cannot pass to another tensor while cached.
  func cachedWeights(_ weights: Tensor, plainMD: dnnl_memory_desc_t) -> (UnsafeMutableRawPointer, Storage?) {
    let key = ObjectIdentifier(weights)
    if let c = weightCache[key], c.version == weights.version { return (c.pointer, c.storage) }
    // Several layers of one shape share a primitive; the bound keeps weights replaced by training
    // (folded copies of old versions) from piling up.
    if weightCache.count >= 64 { weightCache.removeAll() }
    let (ptr, storage) = adapt(weights, plainMD: plainMD, to: mds["weights"]!, name: "w")
    weightCache[key] = WeightCache(tensor: weights, version: weights.version, pointer: ptr, storage: storage)
    return (ptr, storage)
  }

  /// Where this primitive should write an output destined for `tensor` (described by `md`): the
  /// tensor itself when `chosen` equals `md`, else a temporary buffer in `chosen` that the caller
  /// then restores into the tensor.
  func adaptOutput(_ tensor: Tensor, md: dnnl_memory_desc_t, chosen: dnnl_memory_desc_t)
    -> (UnsafeMutableRawPointer, OpaqueBuffer?)
  {
    var a = md
    var b = chosen
    if dnnl_memory_desc_equal(&a, &b) != 0 { return (UnsafeMutableRawPointer(tensor.pointer), nil) }
    let buffer = OpaqueBuffer(md: chosen)
    return (buffer.pointer, buffer)
  }

  /// Writes `buffer` (in `md`) into the plain tensor `tensor` (described by `plainMD`).
  func restore(_ buffer: OpaqueBuffer, into tensor: Tensor, plainMD: dnnl_memory_desc_t, name: String) {
    let r = reorderCache(name) { Primitive.reorder(from: buffer.md, to: plainMD) }
    r.reorder(buffer.pointer, buffer.md, UnsafeMutableRawPointer(tensor.pointer), plainMD)
  }

  func reorderCache(_ name: String, _ make: () -> Primitive) -> Primitive {
    if let r = reorders[name] { return r }
    let r = make()
    reorders[name] = r
    return r
  }
}

extension Tensor {
  /// This tensor in another layout (4-D only for non-plain layouts). Recorded for autodiff when
  /// `differentiable`: the gradient is reordered back.
  public func toLayout(_ target: Layout, differentiable: Bool = true) -> Tensor {
    if target == layout { return self }
    let dims = shape.dims
    let key = "reorder|\(dims)|\(layout)|\(target)"
    let srcMD = DNNL.md(dims, layout)
    let dstMD = DNNL.md(dims, target)
    let prim = DNNLContext.primitive(key) { Primitive.reorder(from: srcMD, to: dstMD) }
    let out = Tensor(uninitialized: shape, layout: target)
    prim.reorder(UnsafeMutableRawPointer(pointer), srcMD, UnsafeMutableRawPointer(out.pointer), dstMD)
    guard differentiable else { return out }
    let source = layout
    return record("reorder", out, [self]) { g in [g.toLayout(source, differentiable: false)] }
  }
}

/// The last weights an inference primitive reordered (`storage` nil when no reorder was needed).
struct WeightCache {
  let tensor: Tensor
  let version: Int
  let pointer: UnsafeMutableRawPointer
  let storage: Storage?
}
