// A portable fingerprint pack: a gallery's models as one JSON document, so that a gallery moves between
// installs without the images it was enrolled from.
//
// Format 1: {"format": "modelprint-fingerprint-pack", "version": 1, "extractor_sha256", "extractor_settings",
// "dimension", "models": [{"name", "notes", "images": [{"path", "embedding": [...]}], "spectra": {...}?}]}.
// Floats are written as JSON numbers with the shortest digits that read back to the same Float32, so an
// export and an import reproduce every embedding bit for bit. Calibration is not carried: thresholds belong
// to the gallery they were measured on, and an import into a gallery with other models changes them.

import Foundation

/// Why a pack cannot be read or imported. Every case names the pack and says what to do.
public enum PackError: Error, CustomStringConvertible, Equatable, Sendable {
  /// Not JSON of the pack's schema.
  case notAPack(name: String, reason: String)
  /// Written by a newer ModelPrint.
  case newerFormat(name: String, version: Int, supported: Int)
  /// The pack's embeddings come from another extractor than the gallery's.
  case extractorMismatch(name: String, pack: String, gallery: String)

  public var description: String {
    switch self {
    case .notAPack(let n, let r):
      return "\(n): not a fingerprint pack (\(r)); pass a file written by `modelprint gallery export`"
    case .newerFormat(let n, let v, let s):
      return "\(n): pack format \(v) is newer than this modelprint reads (\(s)); update modelprint"
    case .extractorMismatch(let n, let p, let g):
      return
        "\(n): the pack's embeddings come from extractor \(p.prefix(16))…, the gallery's from \(g.prefix(16))…; "
        + "import it into a gallery of the pack's extractor (--extractor), or enroll the images again"
    }
  }
}

/// A gallery's models, their notes, every enrolled embedding and the extractor's identity.
public struct FingerprintPack: Codable, Equatable, Sendable {
  /// The value of the `format` key.
  public static let formatName = "modelprint-fingerprint-pack"
  /// The pack format this code writes and reads.
  public static let formatVersion = 1

  /// One enrolled image.
  public struct Entry: Codable, Equatable, Sendable {
    public var path: String
    public var embedding: [Float]
  }

  /// One model.
  public struct Model: Codable, Equatable, Sendable {
    public var name: String
    public var notes: String
    public var images: [Entry]
    /// Summed residual spectra, for explanations; absent when the gallery had none for the model.
    public var spectra: ResidualSpectra?
  }

  public var format: String
  public var version: Int
  public var extractorSHA256: String
  public var extractorSettings: String
  public var dimension: Int
  public var models: [Model]

  enum CodingKeys: String, CodingKey {
    case format, version, dimension, models
    case extractorSHA256 = "extractor_sha256"
    case extractorSettings = "extractor_settings"
  }

  /// The pack of everything in `gallery`.
  public init(gallery: Gallery) throws {
    let embeddings = try gallery.embeddings()
    let spectra = try gallery.spectra()
    let byModel = Dictionary(grouping: embeddings, by: \.model)
    format = Self.formatName
    version = Self.formatVersion
    extractorSHA256 = gallery.extractor.sha256
    extractorSettings = gallery.extractor.settings
    dimension = embeddings.first?.embedding.count ?? 0
    models = try gallery.models().map { m in
      Model(
        name: m.name, notes: m.notes,
        images: (byModel[m.name] ?? []).map { Entry(path: $0.path, embedding: $0.embedding) },
        spectra: spectra[m.name])
    }
  }

  /// The pack as JSON (keys sorted, so that one gallery always gives the same bytes).
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return try encoder.encode(self)
  }

  /// Reads a pack; `name` identifies it in errors. Every count and length is checked before use.
  public static func decode(_ data: Data, name: String) throws -> FingerprintPack {
    let pack: FingerprintPack
    do { pack = try JSONDecoder().decode(FingerprintPack.self, from: data) } catch {
      throw PackError.notAPack(name: name, reason: "\(String(describing: error).prefix(300))")
    }
    guard pack.format == formatName else {
      throw PackError.notAPack(name: name, reason: "its format is '\(pack.format.prefix(60))', not '\(formatName)'")
    }
    if pack.version > formatVersion {
      throw PackError.newerFormat(name: name, version: pack.version, supported: formatVersion)
    }
    guard pack.version >= 1 else { throw PackError.notAPack(name: name, reason: "version \(pack.version)") }
    guard pack.models.isEmpty || (1...Gallery.maxDimension).contains(pack.dimension) else {
      throw PackError.notAPack(
        name: name, reason: "embedding length \(pack.dimension) outside 1...\(Gallery.maxDimension)")
    }
    for m in pack.models {
      if m.name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw PackError.notAPack(name: name, reason: "a model without a name")
      }
      if m.images.isEmpty { throw PackError.notAPack(name: name, reason: "model '\(m.name)' has no images") }
      for e in m.images where e.embedding.count != pack.dimension || !e.embedding.allSatisfy(\.isFinite) {
        throw PackError.notAPack(
          name: name,
          reason: "an embedding of '\(m.name)' has \(e.embedding.count) values (not \(pack.dimension) finite ones)")
      }
      if let problem = m.spectra?.problem {
        throw PackError.notAPack(name: name, reason: "the spectra of '\(m.name)': \(problem)")
      }
    }
    return pack
  }

  /// Enrolls every model of the pack into `gallery` (one transaction per model; images already there
  /// under the same path are replaced), after checking that both come from one extractor.
  @discardableResult
  public func importInto(_ gallery: Gallery, name: String) throws -> [GalleryModel] {
    guard extractorSHA256 == gallery.extractor.sha256 else {
      throw PackError.extractorMismatch(name: name, pack: extractorSHA256, gallery: gallery.extractor.sha256)
    }
    return try models.map { m in
      try gallery.enroll(
        model: m.name, notes: m.notes, images: m.images.map { ($0.path, $0.embedding) }, spectra: m.spectra)
    }
  }
}
