import Foundation
import Tensor

/// Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}`) and raw little-endian data.
/// PyTorch users can load ModelPrint's checkpoints with the `safetensors` package.
///
/// ModelPrint's own files carry `format_version` in their metadata; ``Safetensors/read(_:requireVersion:)``
/// checks it. Writes are atomic (temporary file, then rename).
public enum Safetensors {
  /// The checkpoint format version this build writes and reads.
  public static let formatVersion = 1
  /// The metadata key of the format version.
  public static let versionKey = "format_version"

  /// A file's tensors (plain layout) and metadata.
  public struct File {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]
  }

  /// Writes `tensors` and `metadata` to `url` atomically; adds ``formatVersion``.
  public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
    var meta = metadata
    meta[versionKey] = String(formatVersion)
    var header: [String: Any] = ["__metadata__": meta]
    var offset = 0
    let names = tensors.keys.sorted()
    var plain: [Tensor] = []
    for name in names {
      let t = tensors[name]!
      let p = t.layout == .plain ? t : t.toLayout(.plain, differentiable: false)
      plain.append(p)
      let bytes = p.count * 4
      header[name] = ["dtype": "F32", "shape": p.shape.dims, "data_offsets": [offset, offset + bytes]]
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var data = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    for p in plain { data.append(UnsafeBufferPointer(start: p.pointer, count: p.count)) }
    try AtomicFile.write(data, to: url)
  }

  /// Reads a file. With `requireVersion`, a file without ModelPrint's ``formatVersion`` (or with
  /// another one) is rejected.
  ///
  /// - Throws: ``SafetensorsError`` naming the file.
  public static func read(_ url: URL, requireVersion: Bool = true) throws -> File {
    let path = url.path
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
      throw SafetensorsError.unreadable(path: path, reason: error.localizedDescription)
    }
    guard data.count >= 8 else { throw SafetensorsError.truncated(path: path, expected: 8, found: data.count) }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw SafetensorsError.truncated(path: path, expected: Int(clamping: headerLength) + 8, found: data.count)
    }
    let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
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
    let base = 8 + Int(headerLength)
    let available = data.count - base
    var tensors: [String: Tensor] = [:]
    for (name, value) in header where name != "__metadata__" {
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else {
        throw SafetensorsError.corrupted(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
      }
      guard dtype == "F32" else { throw SafetensorsError.unsupportedDType(path: path, tensor: name, dtype: dtype) }
      guard shape.allSatisfy({ $0 >= 0 }) else {
        throw SafetensorsError.corrupted(path: path, reason: "tensor '\(name)' has a negative dimension")
      }
      var count = 1
      for d in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow, product <= data.count else {
          throw SafetensorsError.corrupted(
            path: path, reason: "tensor '\(name)' has shape \(shape), larger than the file")
        }
        count = product
      }
      let (begin, end) = (offsets[0], offsets[1])
      guard begin >= 0, end >= begin, end - begin == count * 4 else {
        throw SafetensorsError.corrupted(
          path: path,
          reason: "tensor '\(name)' spans \(end - begin) bytes but its shape \(shape) needs \(count * 4)")
      }
      guard end <= available else {
        throw SafetensorsError.truncated(path: path, expected: base + end, found: data.count)
      }
      let t = Tensor(uninitialized: Shape(shape))
      data.withUnsafeBytes { raw in
        UnsafeMutableRawPointer(t.pointer).copyMemory(from: raw.baseAddress! + base + begin, byteCount: count * 4)
      }
      tensors[name] = t
    }
    return File(tensors: tensors, metadata: metadata)
  }
}

/// What can go wrong reading a safetensors file; every case names the file.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case truncated(path: String, expected: Int, found: Int)
  case corrupted(path: String, reason: String)
  case unsupportedDType(path: String, tensor: String, dtype: String)
  case wrongVersion(path: String, found: String?, supported: Int)

  public var description: String {
    switch self {
    case .unreadable(let p, let r): return "\(p): cannot read the file (\(r))"
    case .truncated(let p, let e, let f):
      return "\(p): the file is truncated (\(f) bytes, at least \(e) needed); copy or download it again"
    case .corrupted(let p, let r): return "\(p): not a valid safetensors file: \(r)"
    case .unsupportedDType(let p, let t, let d): return "\(p): tensor '\(t)' has dtype \(d); only F32 is supported"
    case .wrongVersion(let p, let f, let s):
      return "\(p): checkpoint format version \(f ?? "missing"), this build reads version \(s); "
        + "re-create the file with this version of ModelPrint"
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
  /// Saves parameters and buffers with `metadata` (format version added) atomically.
  public func save(to url: URL, metadata: [String: String] = [:]) throws {
    try Safetensors.write(stateDict(), metadata: metadata, to: url)
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
