import Foundation
import Imaging
import NN
import Tensor

/// Real-photo tiles as 8-bit RGB, the training inputs of every synthetic model. Cut once per pool and
/// cached in a small versioned file, so that workers, resumed runs and `generate` see the same tiles.
public struct TileSet: Sendable {
  /// File format version of the cache.
  public static let formatVersion: UInt32 = 1
  static let magic = Array("MPTILES\u{0}".utf8)

  /// Tile side in pixels.
  public let size: Int
  /// Tile count.
  public let count: Int
  /// Planar RGB bytes, `count × 3 × size × size`.
  public let bytes: [UInt8]

  /// Tiles of side `size` from planar RGB bytes, tile after tile.
  public init(size: Int, bytes: [UInt8]) {
    precondition(
      size > 0 && bytes.count % (3 * size * size) == 0,
      "TileSet: \(bytes.count) bytes are not whole \(size)×\(size) RGB tiles")
    self.size = size
    self.count = bytes.count / (3 * size * size)
    self.bytes = bytes
  }

  /// Cuts about `count` textured `size`×`size` tiles from the photos at `urls`, decoding one photo at a
  /// time (photos can be 6000 px wide). Unreadable photos are reported through `skipped` and left out.
  public static func cut(
    from urls: [URL], count: Int, size: Int, seed: UInt64, skipped: (ImageError) -> Void = { _ in }
  ) throws -> TileSet {
    let sampler = TileSampler(size: size)
    var rng = RNG(seed: seed)
    let per = sampler.perPhoto(count: count, photos: urls.count)
    let decoder = ImageDecoder()
    var tiles: [[UInt8]] = []
    for url in urls {
      let photo: Image
      do { photo = try decoder.decode(contentsOf: url) } catch let e as ImageError {
        skipped(e)
        continue
      }
      for tile in sampler.tiles(of: photo, count: per, rng: &rng) {
        tiles.append(tile.pixels.map(unitToByte))
      }
    }
    guard !tiles.isEmpty else { throw TileSetError.noTiles(count: urls.count) }
    TileSampler.shuffle(&tiles, rng: &rng)
    return TileSet(size: size, bytes: Array(tiles.prefix(count).joined()))
  }

  /// Tiles `indices` as a `[n, 3, size, size]` batch in [−1, 1], the synthetic models' input range.
  public func batch(_ indices: [Int]) -> Tensor { batch(indices, divisor: 127.5, offset: -1) }

  /// Tiles `indices` as a `[n, 3, size, size]` batch in [0, 1], the range images have.
  public func unitBatch(_ indices: [Int]) -> Tensor { batch(indices, divisor: 255, offset: 0) }

  /// Tiles `indices` as a batch of byte / `divisor` + `offset`.
  private func batch(_ indices: [Int], divisor: Float, offset: Float) -> Tensor {
    let plane = 3 * size * size
    let out = Tensor(uninitialized: [indices.count, 3, size, size])
    bytes.withUnsafeBufferPointer { src in
      for (b, i) in indices.enumerated() {
        precondition(i >= 0 && i < count, "TileSet.batch: tile \(i) of \(count)")
        let s = src.baseAddress! + i * plane
        let d = out.pointer + b * plane
        for j in 0..<plane { d[j] = Float(s[j]) / divisor + offset }
      }
    }
    return out
  }

  /// Tile `index` as an image in [0, 1].
  public func image(_ index: Int) -> Image {
    let plane = 3 * size * size
    return Image(
      width: size, height: size, pixels: bytes[(index * plane)..<((index + 1) * plane)].map { Float($0) / 255 })
  }

  /// Writes the cache atomically: magic, version, count, size, FNV-1a checksum, bytes.
  public func write(to url: URL) throws {
    var data = Data(Self.magic)
    for v in [Self.formatVersion, UInt32(count), UInt32(size)] {
      withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }
    withUnsafeBytes(of: Checksum.fnv1a(bytes).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: bytes)
    try AtomicFile.write(data, to: url)
  }

  /// Reads and verifies a cache written by ``write(to:)``; with `size`, a cache of other tiles is
  /// refused (a pool's tile file must hold tiles of its config's size).
  public static func read(_ url: URL, size expected: Int? = nil) throws -> TileSet {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw TileSetError.unreadable(path: url.path, reason: "\(error.localizedDescription)")
    }
    let tiles = try decode(data, name: url.path)
    if let expected, tiles.size != expected {
      throw TileSetError.corrupted(
        path: url.path, reason: "it holds \(tiles.size) px tiles, the pool uses \(expected) px")
    }
    return tiles
  }

  /// Decodes and verifies the bytes of a cache; `name` identifies the file in errors. The header's
  /// count and size are checked against the file's length with overflow-checked arithmetic, so any
  /// bytes give tiles or a ``TileSetError``.
  public static func decode(_ data: Data, name: String) throws -> TileSet {
    let header = magic.count + 12 + 8
    guard data.count >= header, Array(data.prefix(magic.count)) == magic else {
      throw TileSetError.corrupted(path: name, reason: "not a ModelPrint tile cache")
    }
    func u32(_ at: Int) -> UInt32 {
      data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }
    let version = u32(magic.count)
    guard version == formatVersion else {
      throw TileSetError.corrupted(path: name, reason: "format version \(version), this build reads \(formatVersion)")
    }
    let count = Int(u32(magic.count + 4))
    let size = Int(u32(magic.count + 8))
    let sum = data.withUnsafeBytes {
      UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: magic.count + 12, as: UInt64.self))
    }
    var length = 3
    var overflow = false
    for factor in [size, size, count] where !overflow {
      (length, overflow) = length.multipliedReportingOverflow(by: factor)
    }
    guard size > 0, count > 0, !overflow, data.count - header == length else {
      throw TileSetError.corrupted(
        path: name, reason: "length \(data.count) does not match \(count) tiles of \(size) px")
    }
    let bytes = [UInt8](data.suffix(from: data.startIndex + header))
    guard Checksum.fnv1a(bytes) == sum else {
      throw TileSetError.corrupted(path: name, reason: "checksum mismatch")
    }
    return TileSet(size: size, bytes: bytes)
  }
}

/// A tile cache that cannot be made or read.
public enum TileSetError: Error, CustomStringConvertible, Equatable {
  case noTiles(count: Int)
  case unreadable(path: String, reason: String)
  case corrupted(path: String, reason: String)

  public var description: String {
    switch self {
    case .noTiles(let n):
      return "no textured tiles in \(n) photo file(s): give --images a folder of real photographs (e.g. data/photos)"
    case .unreadable(let p, let r): return "\(p): cannot read the tile cache (\(r))"
    case .corrupted(let p, let r): return "\(p): tile cache is corrupted (\(r)); delete it and it will be cut again"
    }
  }
}

/// 64-bit FNV-1a, the checksum of pool files: fast, dependency-free, enough to catch torn or altered files.
public enum Checksum {
  /// 64-bit FNV-1a of `bytes`.
  public static func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
  }

  /// The checksum of a file's bytes as 16 hex digits.
  public static func file(_ url: URL) throws -> String {
    let data = try Data(contentsOf: url)
    let h = data.withUnsafeBytes { fnv1a($0.bindMemory(to: UInt8.self)) }
    return String(format: "%016llx", h)
  }
}
