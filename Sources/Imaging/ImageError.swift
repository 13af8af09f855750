/// Why an image file could not be used. Every case names the file and says what to do.
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  case unreadable(path: String, reason: String)
  case isDirectory(path: String)
  case empty(path: String)
  case unknownFormat(path: String)
  case corrupt(path: String, format: String, reason: String)
  case tooLarge(path: String, width: Int, height: Int, limit: Int)
  case unsupported(path: String, reason: String)
  case encodingFailed(format: String, reason: String)

  /// The file the error is about.
  public var path: String {
    switch self {
    case .unreadable(let p, _), .isDirectory(let p), .empty(let p), .unknownFormat(let p), .corrupt(let p, _, _),
      .tooLarge(let p, _, _, _), .unsupported(let p, _):
      return p
    case .encodingFailed: return ""
    }
  }

  public var description: String {
    switch self {
    case .unreadable(let p, let r): return "\(p): cannot read the file (\(r))"
    case .isDirectory(let p): return "\(p): is a directory, not an image file"
    case .empty(let p): return "\(p): the file is empty"
    case .unknownFormat(let p):
      return "\(p): not a JPEG, PNG or WebP image (the first bytes match none of them)"
    case .corrupt(let p, let f, let r):
      return "\(p): damaged or truncated \(f) (\(r)); re-export or re-download the file"
    case .tooLarge(let p, let w, let h, let l):
      return "\(p): \(w)×\(h) pixels exceeds the limit of \(l) pixels (a decompression-bomb guard); "
        + "raise the limit if the image is genuine"
    case .unsupported(let p, let r): return "\(p): \(r)"
    case .encodingFailed(let f, let r): return "encoding \(f) failed: \(r)"
    }
  }
}
