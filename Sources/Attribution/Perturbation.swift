// The paper's robustness perturbations (§V "Image Perturbations", Fig. 16), applied to every image before
// it is embedded.
//
// The paper used Albumentations: `ImageCompression` (a JPEG round trip at a quality) and
// `RandomResizedCrop`, which "randomly crops a patch from the image and resizes it back to the original
// dimensions". Its crop ratio is therefore Albumentations' `scale`: the share of the image's *area* that
// the patch keeps. Here the patch keeps the image's aspect ratio and sits in the centre, so that a sweep
// point means the same images for every method and every run; a spectral fingerprint does not care where
// the patch was. The resize back is bilinear, as Albumentations' default (cv2.INTER_LINEAR).

import Imaging

/// A perturbation of images: JPEG re-compression or a resized centre crop.
public enum Perturbation: Equatable, Sendable, CustomStringConvertible {
  /// A JPEG round trip at `quality` (1–100).
  case jpeg(quality: Int)
  /// The centred region holding `ratio` (0 < ratio ≤ 1) of the image's area, resized back to the image's
  /// size.
  case crop(ratio: Double)

  /// The two families of perturbation, as `--sweep` names them.
  public enum Kind: String, CaseIterable, Sendable {
    case jpeg, crop

    /// The points of the paper's robustness curve, mildest first.
    public var sweep: [Perturbation] {
      switch self {
      case .jpeg: return [100, 95, 90, 80, 70, 60, 50].map { .jpeg(quality: $0) }
      case .crop: return [1.0, 0.9, 0.8, 0.7, 0.6, 0.5].map { .crop(ratio: $0) }
      }
    }

    /// The x-axis label of a curve over this family.
    public var axisLabel: String {
      switch self {
      case .jpeg: return "JPEG quality"
      case .crop: return "crop ratio (share of the area kept)"
      }
    }
  }

  /// Parses `jpeg:Q` (Q an integer 1–100) or `crop:R` (R a number in (0, 1]).
  public init(parsing spec: String) throws {
    let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2 else { throw PerturbationError.malformed(spec: spec) }
    switch parts[0].lowercased() {
    case "jpeg":
      guard let q = Int(parts[1]), (1...100).contains(q) else {
        throw PerturbationError.badValue(spec: spec, expected: "a JPEG quality, an integer from 1 to 100")
      }
      self = .jpeg(quality: q)
    case "crop":
      guard let r = Double(parts[1]), r > 0, r <= 1 else {
        throw PerturbationError.badValue(spec: spec, expected: "a share of the area, a number above 0 and at most 1")
      }
      self = .crop(ratio: r)
    default:
      throw PerturbationError.unknownKind(spec: spec, kind: parts[0])
    }
  }

  /// The family of the perturbation.
  public var kind: Kind {
    switch self {
    case .jpeg: return .jpeg
    case .crop: return .crop
    }
  }

  /// The quality or ratio: the x value of a sweep point.
  public var value: Double {
    switch self {
    case .jpeg(let q): return Double(q)
    case .crop(let r): return r
    }
  }

  /// The spec that ``init(parsing:)`` reads back.
  public var description: String {
    switch self {
    case .jpeg(let q): return "jpeg:\(q)"
    case .crop(let r): return "crop:\(r)"
    }
  }

  /// The perturbed image; a crop keeps the image's size.
  ///
  /// - Throws: ``ImageError`` when the JPEG codec fails.
  public func apply(_ image: Image) throws -> Image {
    switch self {
    case .jpeg(let q):
      return try image.jpegRecompressed(quality: q)
    case .crop(let r):
      let region = Self.cropRegion(width: image.width, height: image.height, ratio: r)
      return image.cropped(x: region.x, y: region.y, width: region.width, height: region.height)
        .resized(width: image.width, height: image.height, filter: .bilinear)
    }
  }

  /// The centred region of a `width`×`height` image that keeps `ratio` of its area and its aspect ratio
  /// (at least one pixel each way).
  public static func cropRegion(width: Int, height: Int, ratio: Double) -> (x: Int, y: Int, width: Int, height: Int) {
    let side = ratio.squareRoot()
    let w = min(width, max(1, Int((Double(width) * side).rounded())))
    let h = min(height, max(1, Int((Double(height) * side).rounded())))
    return ((width - w) / 2, (height - h) / 2, w, h)
  }
}

/// A perturbation spec that cannot be used; the message says what to write instead.
public enum PerturbationError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No `KIND:VALUE` shape.
  case malformed(spec: String)
  /// A kind other than `jpeg` and `crop`.
  case unknownKind(spec: String, kind: String)
  /// The value is out of range or not a number.
  case badValue(spec: String, expected: String)

  public var description: String {
    switch self {
    case .malformed(let s):
      return "perturbation '\(s)': write KIND:VALUE, e.g. jpeg:90 (JPEG quality) or crop:0.8 (share of the area kept)"
    case .unknownKind(let s, let k):
      return "perturbation '\(s)': unknown kind '\(k)'; use jpeg:Q (quality 1–100) or crop:R (0 < R ≤ 1)"
    case .badValue(let s, let e):
      return "perturbation '\(s)': the value must be \(e)"
    }
  }
}
