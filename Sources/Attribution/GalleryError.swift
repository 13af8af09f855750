/// Why a gallery could not be opened or changed. Every case names the gallery file and says what to do.
public enum GalleryError: Error, CustomStringConvertible, Equatable, Sendable {
  /// No gallery file where one was expected.
  case missing(path: String)
  /// The file exists but is not a ModelPrint gallery (not SQLite, damaged, or another program's database).
  case notAGallery(path: String, reason: String)
  /// Written by a newer ModelPrint.
  case newerFormat(path: String, version: Int, supported: Int)
  /// The gallery's embeddings come from another extractor; scores across extractors mean nothing.
  case extractorMismatch(path: String, gallery: String, given: String, settings: String)
  /// Embeddings of a different length than the gallery's.
  case dimensionMismatch(path: String, gallery: Int, given: Int)
  /// No model of that name.
  case unknownModel(path: String, name: String, known: [String])
  /// A model name that cannot be stored.
  case invalidModelName(path: String, name: String)
  /// Enrollment without any image.
  case nothingToEnroll(path: String, model: String)
  /// Identification in a gallery without models.
  case empty(path: String)
  /// Too few labelled images to calibrate thresholds.
  case cannotCalibrate(path: String, reason: String)
  /// Other processes kept the gallery locked longer than the busy timeout.
  case locked(path: String)
  /// SQLite could not read or write the file (permissions, full disk).
  case storage(path: String, reason: String)

  public var description: String {
    switch self {
    case .missing(let p):
      return "\(p): no gallery there; create one with `modelprint gallery enroll --gallery \(p) --model NAME IMAGES...`"
    case .notAGallery(let p, let r):
      return "\(p): not a ModelPrint gallery (\(r)); pass the right file, or a new path to start a gallery"
    case .newerFormat(let p, let v, let s):
      return "\(p): gallery format \(v) is newer than this modelprint reads (\(s)); update modelprint"
    case .extractorMismatch(let p, let g, let given, let settings):
      return
        "\(p): the gallery was built with extractor \(g.prefix(16))… (settings \(settings)) but the given one is "
        + "\(given.prefix(16))…; pass the gallery's extractor with --extractor, or enroll the models again into "
        + "a new gallery with this extractor"
    case .dimensionMismatch(let p, let g, let given):
      return "\(p): the gallery holds \(g)-value embeddings, got \(given); use the gallery's extractor"
    case .unknownModel(let p, let n, let known):
      let list = known.isEmpty ? "the gallery is empty" : "it has: " + known.prefix(20).joined(separator: ", ")
      return "\(p): no model named '\(n)' (\(list)); see `modelprint gallery list --gallery \(p)`"
    case .invalidModelName(let p, let n):
      return "\(p): model name '\(n)' is empty or only whitespace; pass a name with --model"
    case .nothingToEnroll(let p, let m):
      return "\(p): no usable image to enroll model '\(m)'; pass image files or folders of images"
    case .empty(let p):
      return "\(p): the gallery has no models; enroll some with `modelprint gallery enroll`"
    case .cannotCalibrate(let p, let r):
      return "\(p): cannot calibrate: \(r)"
    case .locked(let p):
      return "\(p): other processes kept the gallery locked for over a minute; try again when they finish"
    case .storage(let p, let r):
      return "\(p): cannot read or write the gallery (\(r)); check the file's permissions and the free disk space"
    }
  }
}
