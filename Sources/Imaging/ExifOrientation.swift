import Foundation

/// The EXIF orientation of a JPEG (tag 0x0112): how the stored pixels must be turned to show the
/// scene upright. Cameras and some generators store rotated pixels plus this tag.
public enum ExifOrientation: Int, Sendable {
  case up = 1
  case mirrored = 2
  case down = 3
  case downMirrored = 4
  case leftMirrored = 5
  case right = 6
  case rightMirrored = 7
  case left = 8

  /// The orientation recorded in a JPEG file's EXIF block, or `.up` when there is none.
  public static func read(jpeg data: Data) -> ExifOrientation {
    let b = [UInt8](data.prefix(1 << 16))
    var i = 2
    while i + 4 <= b.count, b[i] == 0xFF {
      let marker = b[i + 1]
      if marker == 0xDA || marker == 0xD9 { break }  // start of scan / end: no more headers
      let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
      let start = i + 4
      // The segment length counts its own two bytes; a damaged one may end before the "Exif" tag.
      let end = min(b.count, i + 2 + length)
      if marker == 0xE1, start + 6 <= end, b[start..<(start + 6)].elementsEqual("Exif\0\0".utf8) {
        return parse(tiff: Array(b[(start + 6)..<end])) ?? .up
      }
      i += 2 + length
    }
    return .up
  }

  /// Reads tag 0x0112 from a TIFF structure.
  static func parse(tiff t: [UInt8]) -> ExifOrientation? {
    guard t.count >= 8 else { return nil }
    let little = t[0] == 0x49
    func u16(_ o: Int) -> Int? {
      guard o + 2 <= t.count else { return nil }
      return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
    }
    func u32(_ o: Int) -> Int? {
      guard let a = u16(o), let b = u16(o + 2) else { return nil }
      return little ? a | b << 16 : a << 16 | b
    }
    guard let ifd = u32(4), let count = u16(ifd) else { return nil }
    for e in 0..<count {
      let entry = ifd + 2 + 12 * e
      guard let tag = u16(entry) else { return nil }
      if tag == 0x0112, let value = u16(entry + 8) { return ExifOrientation(rawValue: value) }
    }
    return nil
  }

  /// The stored image turned upright.
  public func apply(to s: Image) -> Image {
    if self == .up { return s }
    let (w, h) = (s.width, s.height)
    let swaps = [.leftMirrored, .right, .rightMirrored, .left].contains(self)
    let (ow, oh) = swaps ? (h, w) : (w, h)
    var out = [Float](repeating: 0, count: 3 * ow * oh)
    for y in 0..<oh {
      for x in 0..<ow {
        // Source row and column in the stored image for upright pixel (x, y).
        let (r, c): (Int, Int)
        switch self {
        case .up: (r, c) = (y, x)
        case .mirrored: (r, c) = (y, w - 1 - x)
        case .down: (r, c) = (h - 1 - y, w - 1 - x)
        case .downMirrored: (r, c) = (h - 1 - y, x)
        case .leftMirrored: (r, c) = (x, y)
        case .right: (r, c) = (h - 1 - x, y)
        case .rightMirrored: (r, c) = (h - 1 - x, w - 1 - y)
        case .left: (r, c) = (x, w - 1 - y)
        }
        for ch in 0..<3 { out[(ch * oh + y) * ow + x] = s.pixels[(ch * h + r) * w + c] }
      }
    }
    return Image(width: ow, height: oh, pixels: out)
  }
}
