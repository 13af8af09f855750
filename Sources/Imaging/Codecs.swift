import CImageCodecs
import Foundation

/// The image file formats ModelPrint reads, recognised by their first bytes (never by extension).
public enum ImageFormat: String, Sendable, CaseIterable {
  case jpeg, png, webp

  /// The format whose signature starts `data`, if any.
  public static func sniff(_ data: Data) -> ImageFormat? {
    let b = [UInt8](data.prefix(12))
    if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
    if b.count >= 8 && b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
    if b.count >= 12 && b[0..<4] == [0x52, 0x49, 0x46, 0x46] && b[8..<12] == [0x57, 0x45, 0x42, 0x50] { return .webp }
    return nil
  }
}

/// Decodes JPEG (libjpeg-turbo's TurboJPEG API, EXIF orientation applied), PNG (libpng's simplified
/// `png_image` API: 8/16-bit, gray, palette, alpha) and WebP (libwebp) into RGB ``Image``s.
public struct ImageDecoder: Sendable {
  /// The largest image, in pixels, that will be decoded (the header is checked first).
  public var maxPixels: Int

  /// Creates a decoder; the default limit is 100 megapixels.
  public init(maxPixels: Int = 100_000_000) { self.maxPixels = maxPixels }

  /// Reads and decodes the file at `url`.
  public func decode(contentsOf url: URL) throws -> Image {
    let path = url.path
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
      throw ImageError.isDirectory(path: path)
    }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ImageError.unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    return try decode(data, name: path)
  }

  /// Decodes an in-memory file; `name` identifies it in errors.
  public func decode(_ data: Data, name: String) throws -> Image {
    guard !data.isEmpty else { throw ImageError.empty(path: name) }
    switch ImageFormat.sniff(data) {
    case .jpeg: return try JPEGCodec.decode(data, name: name, maxPixels: maxPixels)
    case .png: return try PNGCodec.decode(data, name: name, maxPixels: maxPixels)
    case .webp: return try WebPCodec.decode(data, name: name, maxPixels: maxPixels)
    case nil: throw ImageError.unknownFormat(path: name)
    }
  }
}

/// Encoders for test data, re-compression augmentation and figures.
public enum ImageEncoder {
  /// PNG, 8-bit RGB, fast zlib compression.
  public static func png(_ image: Image) throws -> Data { try PNGCodec.encode(image) }

  /// JPEG at `quality` (1–100), 4:2:0 chroma subsampling as most generated JPEGs, or 4:4:4.
  public static func jpeg(_ image: Image, quality: Int, subsampling444: Bool = false) throws -> Data {
    try JPEGCodec.encode(image, quality: quality, subsampling444: subsampling444)
  }
}

extension Image {
  /// The image after a JPEG round trip at `quality` (the paper's re-compression perturbation).
  public func jpegRecompressed(quality: Int, subsampling444: Bool = false) throws -> Image {
    try ImageDecoder().decode(
      try ImageEncoder.jpeg(self, quality: quality, subsampling444: subsampling444), name: "<jpeg q\(quality)>")
  }
}

/// Refuses a header's size before any pixel buffer is allocated: zero sides (which ``Image`` cannot hold)
/// and more than `maxPixels` pixels (a few header bytes can claim gigabytes), with the product checked
/// for overflow so that no claimed size can trap.
func checkSize(_ w: Int, _ h: Int, name: String, format: String, maxPixels: Int) throws {
  guard w > 0, h > 0 else {
    throw ImageError.corrupt(path: name, format: format, reason: "the header gives a \(w)×\(h) image")
  }
  let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
  guard !overflow, pixels <= maxPixels else {
    throw ImageError.tooLarge(path: name, width: w, height: h, limit: maxPixels)
  }
}

enum JPEGCodec {
  static func decode(_ data: Data, name: String, maxPixels: Int) throws -> Image {
    guard let handle = tjInitDecompress() else { throw ImageError.unsupported(path: name, reason: "TurboJPEG failed") }
    defer { tjDestroy(handle) }
    return try data.withUnsafeBytes { raw -> Image in
      let buf = raw.bindMemory(to: UInt8.self).baseAddress!
      var w: Int32 = 0
      var h: Int32 = 0
      var subsamp: Int32 = 0
      var colorspace: Int32 = 0
      guard tjDecompressHeader3(handle, buf, UInt(data.count), &w, &h, &subsamp, &colorspace) == 0 else {
        throw ImageError.corrupt(path: name, format: "JPEG", reason: String(cString: tjGetErrorStr2(handle)))
      }
      if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
        throw ImageError.unsupported(
          path: name, reason: "CMYK JPEG (print colour space); convert it to RGB first, e.g. with ImageMagick")
      }
      try checkSize(Int(w), Int(h), name: name, format: "JPEG", maxPixels: maxPixels)
      var rgb = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
      let status = tjDecompress2(
        handle, buf, UInt(data.count), &rgb, w, 0, h, Int32(TJPF_RGB.rawValue),
        TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)
      // LIMITSCANS refuses progressive files of more than 500 scans, which take minutes to decode and
      // no encoder writes. A truncated file decodes with a warning (grey bottom rows): reject it rather
      // than use it.
      guard status == 0 else {
        throw ImageError.corrupt(path: name, format: "JPEG", reason: String(cString: tjGetErrorStr2(handle)))
      }
      let image = rgb.withUnsafeBufferPointer {
        Image(interleaved: $0.baseAddress!, width: Int(w), height: Int(h), channels: 3)
      }
      return ExifOrientation.read(jpeg: data).apply(to: image)
    }
  }

  static func encode(_ image: Image, quality: Int, subsampling444: Bool) throws -> Data {
    precondition((1...100).contains(quality), "JPEG quality must be in 1...100, got \(quality)")
    guard let handle = tjInitCompress() else { throw ImageError.encodingFailed(format: "JPEG", reason: "TurboJPEG") }
    defer { tjDestroy(handle) }
    let rgb = image.interleavedBytes()
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size: UInt = 0
    let samp = subsampling444 ? TJSAMP_444 : TJSAMP_420
    let status = tjCompress2(
      handle, rgb, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue), &out,
      &size, Int32(samp.rawValue), Int32(quality), TJFLAG_ACCURATEDCT)
    defer { tjFree(out) }
    guard status == 0, let out else {
      throw ImageError.encodingFailed(format: "JPEG", reason: String(cString: tjGetErrorStr2(handle)))
    }
    return Data(bytes: out, count: Int(size))
  }
}

enum PNGCodec {
  // libpng's format flags (png.h); the composite macros do not import into Swift.
  static let formatAlpha: UInt32 = 0x01
  static let formatColor: UInt32 = 0x02
  static let imageError: UInt32 = 0x02

  static func message(_ image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  static func decode(_ data: Data, name: String, maxPixels: Int) throws -> Image {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    return try data.withUnsafeBytes { raw -> Image in
      guard png_image_begin_read_from_memory(&image, raw.baseAddress, data.count) != 0 else {
        throw ImageError.corrupt(path: name, format: "PNG", reason: message(&image))
      }
      defer { png_image_free(&image) }
      let (w, h) = (Int(image.width), Int(image.height))
      try checkSize(w, h, name: name, format: "PNG", maxPixels: maxPixels)
      // 16-bit files without gAMA/sRGB chunks are sRGB-encoded, as almost every generator writes them.
      image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
      image.format = formatColor | formatAlpha
      var rgba = [UInt8](repeating: 0, count: w * h * 4)
      guard png_image_finish_read(&image, nil, &rgba, 0, nil) != 0, image.warning_or_error & imageError == 0 else {
        throw ImageError.corrupt(path: name, format: "PNG", reason: message(&image))
      }
      return rgba.withUnsafeBufferPointer { Image(interleaved: $0.baseAddress!, width: w, height: h, channels: 4) }
    }
  }

  static func encode(_ img: Image) throws -> Data {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(img.width)
    image.height = UInt32(img.height)
    image.format = formatColor
    image.flags = UInt32(PNG_IMAGE_FLAG_FAST)
    let rgb = img.interleavedBytes()
    var size = 0
    guard png_image_write_to_memory(&image, nil, &size, 0, rgb, 0, nil) != 0 else {
      throw ImageError.encodingFailed(format: "PNG", reason: message(&image))
    }
    var out = Data(count: size)
    let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, rgb, 0, nil) }
    guard ok != 0 else { throw ImageError.encodingFailed(format: "PNG", reason: message(&image)) }
    return out.prefix(size)
  }
}

enum WebPCodec {
  static func decode(_ data: Data, name: String, maxPixels: Int) throws -> Image {
    try data.withUnsafeBytes { raw -> Image in
      let buf = raw.bindMemory(to: UInt8.self).baseAddress!
      var w: Int32 = 0
      var h: Int32 = 0
      guard WebPGetInfo(buf, data.count, &w, &h) != 0 else {
        throw ImageError.corrupt(path: name, format: "WebP", reason: "invalid header")
      }
      try checkSize(Int(w), Int(h), name: name, format: "WebP", maxPixels: maxPixels)
      var rgb = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
      let count = rgb.count
      let decoded = rgb.withUnsafeMutableBufferPointer {
        WebPDecodeRGBInto(buf, data.count, $0.baseAddress, count, w * 3)
      }
      guard decoded != nil else { throw ImageError.corrupt(path: name, format: "WebP", reason: "decoding failed") }
      return rgb.withUnsafeBufferPointer {
        Image(interleaved: $0.baseAddress!, width: Int(w), height: Int(h), channels: 3)
      }
    }
  }
}
