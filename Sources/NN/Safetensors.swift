import Foundation
import Tensor

/// Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}`) and raw little-endian data.
/// PyTorch users can load ModelPrint's checkpoints with the `safetensors` package.
///
/// ModelPrint's own files carry `format_version` in their metadata; ``Safetensors/read(_:requireVersion:)``
/// checks it. Writes are atomic (temporary file, then rename). Tensors are stored as F32 or, when a writer
/// asks for ``Storage/float16``, as F16 (IEEE binary16) where every value fits its range; reading turns
/// both into Float32.
public enum Safetensors {
  /// How a file stores its tensors.
  public enum Storage: String, Codable, CaseIterable, Sendable {
    /// Every tensor as F32: values are kept exactly.
    case float32
    /// Tensors whose values all round to finite binary16 values as F16 (half the bytes; each value
    /// rounded to 11 significant bits, a relative error of at most 2⁻¹¹ above 2⁻¹⁴ and an absolute one of
    /// at most 2⁻²⁵ below it), the others as F32.
    case float16
  }

  /// The checkpoint format version this build writes and reads.
  public static let formatVersion = 1
  /// The metadata key of the format version.
  public static let versionKey = "format_version"

  /// A file's tensors (plain layout) and metadata.
  public struct File {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor], metadata: [String: String]) {
      self.tensors = tensors
      self.metadata = metadata
    }
  }

  /// Writes `tensors` and `metadata` to `url` atomically; adds ``formatVersion``. `storage` says how the
  /// tensors are stored (``Storage/float32`` keeps them exactly).
  public static func write(
    _ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL, storage: Storage = .float32
  ) throws {
    var meta = metadata
    meta[versionKey] = String(formatVersion)
    var header: [String: Any] = ["__metadata__": meta]
    var offset = 0
    // F32 tensors first, so that every value lies at an offset that is a multiple of its own size
    // (the format has no padding between tensors; the header is padded to 8 bytes).
    let plain: [(name: String, tensor: Tensor, half: Bool)] = tensors.keys.map { name in
      let t = tensors[name]!
      let p = t.layout == .plain ? t : t.toLayout(.plain, differentiable: false)
      return (name, p, storage == .float16 && fitsFloat16(p))
    }.sorted { (!$0.half && $1.half) || ($0.half == $1.half && $0.name < $1.name) }
    for (name, p, half) in plain {
      let bytes = p.count * (half ? 2 : 4)
      header[name] = [
        "dtype": half ? "F16" : "F32", "shape": p.shape.dims, "data_offsets": [offset, offset + bytes],
      ]
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var data = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    for (_, p, half) in plain {
      let values = UnsafeBufferPointer(start: p.pointer, count: p.count)
      if half {
        let bits = values.map { Float16($0).bitPattern.littleEndian }
        bits.withUnsafeBytes { data.append(contentsOf: $0) }
      } else {
        data.append(values)
      }
    }
    try AtomicFile.write(data, to: url)
  }

  /// Whether every value of `t` rounds to a finite binary16 value (magnitude below 65520).
  static func fitsFloat16(_ t: Tensor) -> Bool {
    UnsafeBufferPointer(start: t.pointer, count: t.count).allSatisfy { Float16($0).isFinite }
  }

  /// The largest JSON header read (the `safetensors` package's own limit): a damaged length field must
  /// not make the reader parse or allocate gigabytes.
  public static let maxHeaderBytes = 100_000_000

  /// Reads a file. With `requireVersion`, a file without ModelPrint's ``formatVersion`` (or with
  /// another one) is rejected.
  ///
  /// - Throws: ``SafetensorsError`` naming the file.
  public static func read(_ url: URL, requireVersion: Bool = true) throws -> File {
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
      throw SafetensorsError.unreadable(path: url.path, reason: error.localizedDescription)
    }
    return try decode(data, name: url.path, requireVersion: requireVersion)
  }

  /// Decodes the bytes of a safetensors file; `name` identifies it in errors. Every length, offset and
  /// shape in the header is checked against the file before it is used, so any bytes give a file or
  /// a ``SafetensorsError``.
  public static func decode(_ data: Data, name path: String, requireVersion: Bool = true) throws -> File {
    guard data.count >= 8 else { throw SafetensorsError.truncated(path: path, expected: 8, found: data.count) }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(maxHeaderBytes) else {
      throw SafetensorsError.corrupted(
        path: path, reason: "the header length field says \(headerLength) bytes (at most \(maxHeaderBytes) allowed)")
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw SafetensorsError.truncated(path: path, expected: Int(headerLength) + 8, found: data.count)
    }
    let base = 8 + Int(headerLength)
    let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + base))
    guard let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any] else {
      throw SafetensorsError.corrupted(path: path, reason: "the header is not a JSON object")
    }
    var metadata: [String: String] = [:]
    if let meta = header["__metadata__"] {
      guard let m = meta as? [String: String] else {
        throw SafetensorsError.corrupted(path: path, reason: "__metadata__ is not a string dictionary")
      }
      metadata = m
    }
    if requireVersion {
      guard let v = metadata[versionKey] else {
        throw SafetensorsError.wrongVersion(path: path, found: nil, supported: formatVersion)
      }
      guard Int(v) == formatVersion else {
        throw SafetensorsError.wrongVersion(path: path, found: v, supported: formatVersion)
      }
    }
    let available = data.count - base
    var entries: [Entry] = []
    for (name, value) in header where name != "__metadata__" {
      let entry = try Entry(name: name, value: value, path: path)
      guard entry.end <= available else {
        throw SafetensorsError.truncated(path: path, expected: base + entry.end, found: data.count)
      }
      entries.append(entry)
    }
    entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
    for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
      throw SafetensorsError.corrupted(
        path: path, reason: "tensors '\(a.name)' and '\(b.name)' overlap in the data section")
    }
    var tensors: [String: Tensor] = [:]
    for entry in entries {
      let t = Tensor(uninitialized: Shape(entry.shape))
      data.withUnsafeBytes { raw in
        let source = raw.baseAddress! + base + entry.begin
        guard entry.half else {
          UnsafeMutableRawPointer(t.pointer).copyMemory(from: source, byteCount: entry.end - entry.begin)
          return
        }
        for i in 0..<t.count {
          let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          t.pointer[i] = Float(Float16(bitPattern: bits))
        }
      }
      tensors[entry.name] = t
    }
    return File(tensors: tensors, metadata: metadata)
  }

  /// One tensor's header entry, checked for consistency: F32 or F16, non-negative dimensions whose
  /// product does not overflow, and a byte range of exactly that many values (which the caller checks
  /// against the file, bounding every allocation by the file's size).
  struct Entry {
    var name: String
    var shape: [Int]
    var begin: Int
    var end: Int
    /// Stored as F16 (2 bytes a value) rather than F32.
    var half: Bool

    init(name: String, value: Any, path: String) throws {
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else {
        throw SafetensorsError.corrupted(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
      }
      guard dtype == "F32" || dtype == "F16" else {
        throw SafetensorsError.unsupportedDType(path: path, tensor: name, dtype: dtype)
      }
      let half = dtype == "F16"
      guard shape.allSatisfy({ $0 >= 0 }) else {
        throw SafetensorsError.corrupted(path: path, reason: "tensor '\(name)' has a negative dimension in \(shape)")
      }
      var bytes = half ? 2 : 4
      for d in shape {
        let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
        guard !overflow else {
          throw SafetensorsError.corrupted(path: path, reason: "tensor '\(name)' has an impossible shape \(shape)")
        }
        bytes = product
      }
      let (begin, end) = (offsets[0], offsets[1])
      guard begin >= 0, end >= begin else {
        throw SafetensorsError.corrupted(
          path: path, reason: "tensor '\(name)' has data offsets [\(begin), \(end)], not an increasing pair")
      }
      guard end - begin == bytes else {
        throw SafetensorsError.corrupted(
          path: path, reason: "tensor '\(name)' spans \(end - begin) bytes but its shape \(shape) needs \(bytes)")
      }
      self.name = name
      self.shape = shape
      self.begin = begin
      self.end = end
      self.half = half
    }
  }
}

/// What can go wrong reading a safetensors file; every case names the file.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case truncated(path: String, expected: Int, found: Int)
  case corrupted(path: String, reason: String)
  case unsupportedDType(path: String, tensor: String, dtype: String)
  case wrongVersion(path: String, found: String?, supported: Int)
  /// A readable file whose metadata or tensors do not describe the `kind` of model it was given as.
  case badCheckpoint(path: String, kind: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let p, let r): return "\(p): cannot read the file (\(r))"
    case .truncated(let p, let e, let f):
      return "\(p): the file is truncated (\(f) bytes, at least \(e) needed); copy or download it again"
    case .corrupted(let p, let r):
      return
        "\(p): not a valid safetensors file: \(r); the file is damaged or of another format, copy or download it again"
    case .unsupportedDType(let p, let t, let d):
      return "\(p): tensor '\(t)' has dtype \(d); only F32 and F16 are supported"
    case .wrongVersion(let p, let f, let s):
      return "\(p): checkpoint format version \(f ?? "missing"), this build reads version \(s); "
        + "re-create the file with this version of ModelPrint"
    case .badCheckpoint(let p, let k, let r):
      return "\(p): not a usable \(k) checkpoint: \(r); pass one written by this version of ModelPrint"
    }
  }
}

/// Atomic file replacement: write a temporary file beside the target, flush it, rename it over.
public enum AtomicFile {
  /// Writes `data` to `url` so that readers see the old file or the new one, never a partial one.
  public static func write(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let tmp = dir.appendingPathComponent(
      ".\(url.lastPathComponent).\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp")
    guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
      throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: tmp.path])
    }
    let handle = try FileHandle(forWritingTo: tmp)
    do {
      try handle.write(contentsOf: data)
      try handle.synchronize()
      try handle.close()
    } catch {
      try? handle.close()
      try? FileManager.default.removeItem(at: tmp)
      throw error
    }
    guard rename(tmp.path, url.path) == 0 else {
      let code = errno
      try? FileManager.default.removeItem(at: tmp)
      throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
    }
  }
}

extension Module {
  /// Saves parameters and buffers with `metadata` (format version added) atomically, stored as
  /// `storage` says.
  public func save(to url: URL, metadata: [String: String] = [:], storage: Safetensors.Storage = .float32) throws {
    try Safetensors.write(stateDict(), metadata: metadata, to: url, storage: storage)
  }

  /// Loads parameters and buffers saved by ``save(to:metadata:)``; returns the file's metadata.
  @discardableResult
  public func load(from url: URL) throws -> [String: String] {
    let file = try Safetensors.read(url)
    do { try loadStateDict(file.tensors) } catch let e as StateDictError {
      throw SafetensorsError.corrupted(path: url.path, reason: e.description)
    }
    return file.metadata
  }
}
