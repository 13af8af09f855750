// The gallery: enrolled models, every enrolled image's embedding, and the settings scores depend on, in
// one SQLite file (GRDB, WAL journal).
//
// Schema (format 1):
//   meta(key TEXT PRIMARY KEY, value TEXT): format_version, extractor_sha256, extractor_settings,
//     extractor_path (a hint for commands run without --extractor), dimension (after the first
//     enrollment), calibration (JSON), open_set_threshold, verification_threshold, open_set_scoring and
//     verification_scoring (how the calibration computed the scores its thresholds apply to, ``Scoring``;
//     absent in calibrations made before the gallery's context: `plain`), metric (`gallery`: 1:N in the
//     metric adapted to the enrolled images, ``GalleryAdaptation``; `synthetic` or absent, as galleries
//     made before it: the extractor's own).
//   models(id, name UNIQUE, notes, created, images, fingerprint BLOB): `images` and `fingerprint` are
//     derived from the images table and rewritten in the same transaction as every change to it, so
//     opening a gallery of a million models reads one row per model, not every image.
//   images(id, model → models(id) ON DELETE CASCADE, path, embedding BLOB, created), UNIQUE(model, path):
//     enrolling the same file again replaces its embedding instead of counting it twice.
//   model_spectra(model → models(id) ON DELETE CASCADE, side, images, spectrum BLOB, profile BLOB): sums
//     of the enrolled images' residual spectra (``ResidualSpectra``) for explanations; added to format 1
//     galleries when opened (older readers ignore the table), and empty for models enrolled without them.
// Embeddings, fingerprints and spectra are little-endian Float32 BLOBs.
//
// Each enrollment or removal is one IMMEDIATE transaction: a process killed in the middle leaves the
// gallery as it was before, and concurrent writers from several processes queue on SQLite's lock (busy
// timeout) instead of failing. WAL lets identification read while another process writes.

import Evaluation
import Foundation
import GRDB
import Tensor

/// What produced a gallery's embeddings: scores are only comparable between embeddings of one extractor.
public struct ExtractorIdentity: Equatable, Sendable {
  /// SHA-256 of the extractor file (or of the settings, for hand-crafted methods).
  public var sha256: String
  /// The input settings, as JSON, shown when a different extractor is refused.
  public var settings: String
  /// Where the extractor file was, remembered so later commands can find it.
  public var path: String?

  public init(sha256: String, settings: String, path: String? = nil) {
    self.sha256 = sha256
    self.settings = settings
    self.path = path
  }
}

/// One enrolled model.
public struct GalleryModel: Equatable, Sendable {
  public var id: Int64
  public var name: String
  public var notes: String
  public var created: Date
  /// Enrolled images.
  public var images: Int
}

/// A ranked answer to "which model made this image?".
public struct Identification: Equatable, Sendable {
  /// Best models first, with cosine scores (in the gallery's 1:N metric).
  public var candidates: [(model: String, score: Float)]
  /// The open-set threshold in force, nil when the gallery was never calibrated.
  public var threshold: Float?
  /// The best model's score in the gallery's context, which the open-set decision compares with the
  /// threshold (``Scoring/gallery``); nil where the decision takes the best candidate's score.
  public var openSetScore: Float?
  /// The score the open-set decision compares with the threshold.
  public var decisionScore: Float { openSetScore ?? candidates.first?.score ?? -.infinity }
  /// True when the decision score is below the threshold: the image's model is probably not enrolled.
  public var isUnknown: Bool { threshold.map { decisionScore < $0 } ?? false }

  public init(candidates: [(model: String, score: Float)], threshold: Float?, openSetScore: Float? = nil) {
    self.candidates = candidates
    self.threshold = threshold
    self.openSetScore = openSetScore
  }

  public static func == (a: Identification, b: Identification) -> Bool {
    a.threshold == b.threshold && a.openSetScore == b.openSetScore
      && a.candidates.map(\.model) == b.candidates.map(\.model)
      && a.candidates.map(\.score) == b.candidates.map(\.score)
  }
}

/// The answer to "did these two images come from the same model?".
public struct Verification: Equatable, Sendable {
  /// The similarity of the two embeddings, computed as `scoring` says.
  public var score: Float
  /// The threshold applied (nil: none known, no decision).
  public var threshold: Float?
  /// How `score` was computed.
  public var scoring: Scoring
  /// `score ≥ threshold`, or nil without a threshold.
  public var same: Bool? { threshold.map { score >= $0 } }

  public init(score: Float, threshold: Float?, scoring: Scoring = .plain) {
    self.score = score
    self.threshold = threshold
    self.scoring = scoring
  }
}

/// A gallery of model fingerprints in an SQLite file.
public final class Gallery {
  /// The gallery format this code writes and reads.
  public static let formatVersion = 1

  /// The gallery file.
  public let path: String
  /// The extractor the gallery's embeddings come from.
  public let extractor: ExtractorIdentity
  private let db: DatabasePool
  /// Locked: a server may search one gallery from several request threads (GRDB's pool is thread-safe).
  /// The index with the adaptation it was built with (nil in the synthetic metric), read and replaced
  /// together so that a query is always mapped like the fingerprints it is scored against.
  private let cachedSearch = Locked<Search?>(nil)

  /// What identification and verification score with: the index (fingerprints in the 1:N metric) and, in
  /// the gallery metric, the adaptation and the fingerprints in the gallery's context.
  private struct Search: Sendable {
    var index: FingerprintIndex
    var adaptation: GalleryAdaptation?
    /// Fingerprint k in the gallery's context (``GalleryAdaptation/contextFingerprints(rows:centre:)``).
    var context: [[Float]]?
  }

  /// Opens the gallery at `url`. With `extractor` given, a new file is created for it and an existing
  /// gallery must have been built with the same one; without, the gallery must exist and any extractor
  /// is accepted (listing and removing need none). A new gallery identifies in `metric`: the gallery
  /// metric needs embeddings whitened on synthetic models (its prior is their within-model scatter), so
  /// an extractor without a whitening, or a hand-crafted method, should create `.synthetic` ones.
  public init(at url: URL, extractor: ExtractorIdentity?, create: Bool = true, metric: GalleryMetric = .gallery)
    throws
  {
    path = url.path
    let exists = FileManager.default.fileExists(atPath: path)
    if !exists && (extractor == nil || !create) { throw GalleryError.missing(path: path) }
    var config = Configuration()
    // Writers from other processes hold the lock for one enrollment at most; wait rather than fail.
    config.busyMode = .timeout(60)
    config.foreignKeysEnabled = true
    let path = self.path
    do {
      db = try DatabasePool(path: path, configuration: config)
      let stored: [String: String] = try db.write { db in
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        if tables.isEmpty, let extractor {
          try Self.createSchema(db, extractor: extractor, metric: metric)
        } else if !tables.contains("meta") || !tables.contains("models") || !tables.contains("images") {
          throw GalleryError.notAGallery(
            path: path,
            reason: "an SQLite database without the gallery's tables (has: \(tables.joined(separator: ", ")))")
        }
        try db.execute(sql: Self.spectraSchema)
        let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM meta")
        let pairs = try rows.map {
          (try $0.decode(String.self, forColumn: "key"), try $0.decode(String.self, forColumn: "value"))
        }
        return Dictionary(pairs, uniquingKeysWith: { a, _ in a })
      }
      guard let v = stored["format_version"].flatMap(Int.init), let hash = stored["extractor_sha256"] else {
        throw GalleryError.notAGallery(path: path, reason: "no format version or extractor hash in its meta table")
      }
      if v > Self.formatVersion {
        throw GalleryError.newerFormat(path: path, version: v, supported: Self.formatVersion)
      }
      let recorded = ExtractorIdentity(
        sha256: hash, settings: stored["extractor_settings"] ?? "", path: stored["extractor_path"])
      if let extractor, extractor.sha256 != hash {
        throw GalleryError.extractorMismatch(
          path: path, gallery: hash, given: extractor.sha256, settings: recorded.settings)
      }
      self.extractor = recorded
    } catch let e as DatabaseError {
      throw Self.error(e, path: path)
    } catch let e as RowDecodingError {
      throw Self.error(e, path: path)
    }
  }

  /// The extractor recorded in the gallery at `url`, without opening it for use (nil when the file does
  /// not exist).
  public static func recordedExtractor(at url: URL) throws -> ExtractorIdentity? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    return try Gallery(at: url, extractor: nil).extractor
  }

  private static let spectraSchema = """
    CREATE TABLE IF NOT EXISTS model_spectra (
      model INTEGER PRIMARY KEY NOT NULL REFERENCES models(id) ON DELETE CASCADE, side INTEGER NOT NULL,
      images INTEGER NOT NULL, spectrum BLOB NOT NULL, profile BLOB NOT NULL)
    """

  private static func createSchema(_ db: Database, extractor: ExtractorIdentity, metric: GalleryMetric) throws {
    try db.execute(
      sql: """
        CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
        CREATE TABLE models (
          id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, notes TEXT NOT NULL DEFAULT '',
          created DATETIME NOT NULL, images INTEGER NOT NULL DEFAULT 0, fingerprint BLOB NOT NULL);
        CREATE TABLE images (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
          path TEXT NOT NULL, embedding BLOB NOT NULL, created DATETIME NOT NULL, UNIQUE(model, path));
        CREATE INDEX images_model ON images(model);
        """)
    var meta = [
      "format_version": "\(formatVersion)", "extractor_sha256": extractor.sha256,
      "extractor_settings": extractor.settings, "metric": metric.rawValue,
    ]
    if let p = extractor.path { meta["extractor_path"] = p }
    for (k, v) in meta { try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [k, v]) }
  }

  // MARK: models

  /// Enrolls images of one model (created when new; `notes` replace the model's notes when given), in one
  /// transaction: either all of them are stored with the updated fingerprint, or none is.
  ///
  /// `spectra`, the sums of the images' residual spectra, are added to the model's (for explanations);
  /// an image enrolled again adds its spectrum again, so the mean is over enrollments.
  @discardableResult
  public func enroll(
    model name: String, notes: String? = nil, images: [(path: String, embedding: [Float])],
    spectra: ResidualSpectra? = nil
  ) throws -> GalleryModel {
    let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !name.isEmpty else { throw GalleryError.invalidModelName(path: path, name: name) }
    guard let first = images.first else { throw GalleryError.nothingToEnroll(path: path, model: name) }
    let path = self.path
    let model = try write { db -> GalleryModel in
      let dim = first.embedding.count
      if let stored = try Self.dimension(db, path: path) {
        for e in images where e.embedding.count != stored {
          throw GalleryError.dimensionMismatch(path: path, gallery: stored, given: e.embedding.count)
        }
      } else {
        for e in images where e.embedding.count != dim {
          throw GalleryError.dimensionMismatch(path: path, gallery: dim, given: e.embedding.count)
        }
        try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('dimension', ?)", arguments: ["\(dim)"])
      }
      let now = Date()
      if try Int64.fetchOne(db, sql: "SELECT id FROM models WHERE name = ?", arguments: [name]) == nil {
        try db.execute(
          sql: "INSERT INTO models (name, notes, created, images, fingerprint) VALUES (?, ?, ?, 0, x'')",
          arguments: [name, notes ?? "", now])
      } else if let notes {
        try db.execute(sql: "UPDATE models SET notes = ? WHERE name = ?", arguments: [notes, name])
      }
      let id = try Int64.fetchOne(db, sql: "SELECT id FROM models WHERE name = ?", arguments: [name])!
      for e in images {
        try db.execute(
          sql: """
            INSERT INTO images (model, path, embedding, created) VALUES (?, ?, ?, ?)
            ON CONFLICT(model, path) DO UPDATE SET embedding = excluded.embedding, created = excluded.created
            """,
          arguments: [id, e.path, Data(Vectors.bytes(e.embedding)), now])
      }
      try Self.refreshFingerprint(db, model: id, path: path)
      if let spectra { try Self.add(spectra, model: id, db, path: path) }
      return try Self.fetchModels(db, where: "id = ?", [id])[0]
    }
    cachedSearch.current = nil
    return model
  }

  /// Removes a model and its images; returns what was removed.
  @discardableResult
  public func remove(model name: String) throws -> GalleryModel {
    let path = self.path
    let removed = try write { db -> GalleryModel in
      guard let m = try Self.fetchModels(db, where: "name = ?", [name]).first else {
        throw GalleryError.unknownModel(
          path: path, name: name, known: try String.fetchAll(db, sql: "SELECT name FROM models ORDER BY name"))
      }
      try db.execute(sql: "DELETE FROM models WHERE id = ?", arguments: [m.id])
      return m
    }
    cachedSearch.current = nil
    return removed
  }

  /// Every model, by name.
  public func models() throws -> [GalleryModel] {
    try read { db in try Self.fetchModels(db, where: "1", []) }
  }

  /// Every enrolled image's embedding with its model's name, model by model.
  public func embeddings() throws -> [(model: String, path: String, embedding: [Float])] {
    let path = self.path
    return try read { db in
      let dim = try Self.dimension(db, path: path)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT models.name AS name, images.path AS path, images.embedding AS embedding
          FROM images JOIN models ON images.model = models.id ORDER BY models.name, images.path
          """
      ).map { row in
        let name = try row.decode(String.self, forColumn: "name")
        let image = try row.decode(String.self, forColumn: "path")
        let embedding = try Self.floats(
          try row.decode(Data?.self, forColumn: "embedding"), dimension: dim, what: "embedding of \(name)/\(image)",
          path: path)
        return (name, image, embedding)
      }
    }
  }

  /// Each model's summed residual spectra, by name; models enrolled without spectra are absent.
  public func spectra() throws -> [String: ResidualSpectra] {
    let path = self.path
    return try read { db in
      var out: [String: ResidualSpectra] = [:]
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT models.name AS name, side, model_spectra.images AS images, spectrum, profile
          FROM model_spectra JOIN models ON model_spectra.model = models.id
          """)
      for row in rows {
        let name = try row.decode(String.self, forColumn: "name")
        let s = try Self.spectra(row, path: path, model: name)
        out[name] = s
      }
      return out
    }
  }

  private static func spectra(_ row: Row, path: String, model name: String) throws -> ResidualSpectra {
    let side = try row.decode(Int.self, forColumn: "side")
    let bytes = { (column: String) throws -> [Float] in
      Vectors.floats(try row.decode(Data?.self, forColumn: column) ?? Data()) ?? []
    }
    let s = ResidualSpectra(
      side: side, count: try row.decode(Int.self, forColumn: "images"), spectrum: try bytes("spectrum"),
      profile: try bytes("profile"))
    if let problem = s.problem {
      throw GalleryError.notAGallery(path: path, reason: "model '\(name)' has damaged spectra (\(problem))")
    }
    return s
  }

  private static func add(_ spectra: ResidualSpectra, model id: Int64, _ db: Database, path: String) throws {
    if let problem = spectra.problem {
      throw GalleryError.notAGallery(path: path, reason: "refused spectra to enroll (\(problem))")
    }
    var total = spectra
    if let row = try Row.fetchOne(db, sql: "SELECT * FROM model_spectra WHERE model = ?", arguments: [id]) {
      let stored = try Self.spectra(row, path: path, model: "#\(id)")
      guard stored.side == spectra.side else {
        throw GalleryError.dimensionMismatch(path: path, gallery: stored.side, given: spectra.side)
      }
      total = stored.adding(spectra)
    }
    try db.execute(
      sql: "INSERT OR REPLACE INTO model_spectra (model, side, images, spectrum, profile) VALUES (?, ?, ?, ?, ?)",
      arguments: [
        id, total.side, total.count, Data(Vectors.bytes(total.spectrum)), Data(Vectors.bytes(total.profile)),
      ])
  }

  /// Recomputes every model's fingerprint from its images (after a change of the fingerprint rule).
  public func recomputeFingerprints() throws {
    let path = self.path
    try write { db in
      for id in try Int64.fetchAll(db, sql: "SELECT id FROM models") {
        try Self.refreshFingerprint(db, model: id, path: path)
      }
    }
    cachedSearch.current = nil
  }

  private static func refreshFingerprint(_ db: Database, model id: Int64, path: String) throws {
    let dim = try dimension(db, path: path)
    let rows = try Row.fetchAll(db, sql: "SELECT path, embedding FROM images WHERE model = ?", arguments: [id])
    let embeddings = try rows.map { row in
      try floats(
        try row.decode(Data?.self, forColumn: "embedding"), dimension: dim,
        what: "embedding of \(try row.decode(String?.self, forColumn: "path") ?? "an image")", path: path)
    }
    // A model without images has no fingerprint; ``index()`` reports it as damaged.
    let fingerprint = embeddings.isEmpty ? [] : Vectors.fingerprint(embeddings)
    try db.execute(
      sql: "UPDATE models SET images = ?, fingerprint = ? WHERE id = ?",
      arguments: [rows.count, Data(Vectors.bytes(fingerprint)), id])
  }

  /// The largest embedding a gallery may record (the extractors' are a few hundred values).
  public static let maxDimension = 1 << 16

  /// The embedding length in the meta table, nil before the first enrollment.
  private static func dimension(_ db: Database, path: String) throws -> Int? {
    guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'dimension'") else { return nil }
    guard let d = Int(text), (1...maxDimension).contains(d) else {
      throw GalleryError.notAGallery(
        path: path, reason: "its recorded embedding length '\(text)' is not a whole number in 1...\(maxDimension)")
    }
    return d
  }

  /// A stored Float32 BLOB as values, refused unless it holds exactly the gallery's `dimension` of them.
  private static func floats(_ blob: Data?, dimension: Int?, what: String, path: String) throws -> [Float] {
    let bytes = blob ?? Data()
    guard let dimension, bytes.count == 4 * dimension, let values = Vectors.floats(bytes) else {
      throw GalleryError.notAGallery(
        path: path,
        reason:
          "the \(what) is damaged (\(bytes.count) bytes, \(dimension.map { "\(4 * $0)" } ?? "no length recorded") expected)"
      )
    }
    return values
  }

  private static func fetchModels(_ db: Database, where clause: String, _ arguments: StatementArguments) throws
    -> [GalleryModel]
  {
    try Row.fetchAll(
      db, sql: "SELECT id, name, notes, created, images FROM models WHERE \(clause) ORDER BY name",
      arguments: arguments
    ).map {
      GalleryModel(
        id: try $0.decode(forColumn: "id"), name: try $0.decode(forColumn: "name"),
        notes: try $0.decode(forColumn: "notes"), created: try $0.decode(forColumn: "created"),
        images: try $0.decode(forColumn: "images"))
    }
  }

  // MARK: search

  /// All fingerprints in one matrix, read once and kept until the gallery changes through this object.
  public func index() throws -> FingerprintIndex { try search().index }

  /// The index and, in the gallery metric, the adaptation its fingerprints and queries are mapped by.
  private func search() throws -> Search {
    if let cached = cachedSearch.current { return cached }
    let plain = try storedIndex()
    var built = Search(index: plain, adaptation: nil, context: nil)
    if try metric() == .gallery, plain.count > 0 {
      let sample = try adaptationSample()
      if let fit = try GalleryAdaptation.fit(sample.embeddings, labels: sample.labels) {
        let centre = GalleryAdaptation.fingerprintCentre(rows: plain.matrix, dimension: plain.dimension)
        built = Search(
          index: FingerprintIndex(
            names: plain.names, matrix: fit.apply(rows: plain.matrix), dimension: plain.dimension),
          adaptation: fit, context: fit.contextFingerprints(rows: plain.matrix, centre: centre))
      }
    }
    cachedSearch.current = built
    return built
  }

  /// The 1:N metric (``GalleryMetric``); galleries made before it was recorded use the synthetic one.
  public func metric() throws -> GalleryMetric {
    let stored = try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'metric'") }
    return stored.flatMap(GalleryMetric.init(rawValue:)) ?? .synthetic
  }

  /// Sets the 1:N metric. The open-set threshold was calibrated in the old one, so a change removes the
  /// stored calibration (run `calibrate` again).
  public func setMetric(_ metric: GalleryMetric) throws {
    guard try self.metric() != metric else { return }
    try write { db in
      try db.execute(
        sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('metric', ?)", arguments: [metric.rawValue])
      try db.execute(
        sql: """
          DELETE FROM meta WHERE key IN
          ('calibration', 'open_set_threshold', 'verification_threshold', 'open_set_scoring', 'verification_scoring')
          """)
    }
    cachedSearch.current = nil
  }

  /// Most images the adaptation is fitted on: a within-model scatter of D values is well estimated from
  /// a few thousand, and a cap keeps a gallery of a million models from reading every image.
  public static let adaptationImages = 8192

  /// Enrolled embeddings the adaptation is fitted on, with their model ids: whole models in id order
  /// (enrollment order) until ``adaptationImages``, so the fit is the same on every open.
  private func adaptationSample() throws -> (embeddings: [[Float]], labels: [Int]) {
    let path = self.path
    return try read { db in
      let dim = try Self.dimension(db, path: path)
      var embeddings: [[Float]] = []
      var labels: [Int] = []
      let rows = try Row.fetchCursor(
        db, sql: "SELECT model, path, embedding FROM images ORDER BY model, id")
      var last: Int64? = nil
      while let row = try rows.next() {
        let model = try row.decode(Int64.self, forColumn: "model")
        if model != last && embeddings.count >= Self.adaptationImages { break }
        last = model
        embeddings.append(
          try Self.floats(
            try row.decode(Data?.self, forColumn: "embedding"), dimension: dim,
            what: "embedding of \(try row.decode(String?.self, forColumn: "path") ?? "an image")", path: path))
        labels.append(Int(truncatingIfNeeded: model))
      }
      return (embeddings, labels)
    }
  }

  /// The stored fingerprints as they are (the synthetic metric).
  private func storedIndex() throws -> FingerprintIndex {
    let path = self.path
    return try read { db -> FingerprintIndex in
      let dim = try Self.dimension(db, path: path) ?? 1
      var names: [String] = []
      var matrix: [Float] = []
      // Rows are appended as they pass the checks, so a damaged count or length cannot size an allocation.
      let rows = try Row.fetchCursor(db, sql: "SELECT name, fingerprint FROM models ORDER BY name")
      while let row = try rows.next() {
        let name = try row.decode(String.self, forColumn: "name")
        let start = matrix.count
        try row.withUnsafeData(named: "fingerprint") { data in
          let blob = data ?? Data()
          guard blob.count == dim * 4 else {
            throw GalleryError.notAGallery(
              path: path, reason: "model '\(name)' has a damaged fingerprint (\(blob.count) bytes, \(dim * 4) expected)"
            )
          }
          matrix.append(contentsOf: repeatElement(0, count: dim))
          matrix.withUnsafeMutableBytes { m in
            blob.withUnsafeBytes { b in
              (m.baseAddress! + start * 4).copyMemory(from: b.baseAddress!, byteCount: dim * 4)
            }
          }
        }
        names.append(name)
      }
      return FingerprintIndex(names: names, matrix: matrix, dimension: dim)
    }
  }

  /// The `top` models closest to an image's embedding, and whether it is "unknown" (best score below
  /// the calibrated open-set threshold).
  ///
  /// In the gallery metric the decision takes the best model's score in the gallery's context (see
  /// ``GalleryAdaptation``), unless the stored calibration scored its open set the plain way (one made
  /// before the context existed): its threshold applies only to scores computed its way.
  public func identify(_ embedding: [Float], top: Int = 5) throws -> Identification {
    let search = try search()
    let index = search.index
    guard index.count > 0 else { throw GalleryError.empty(path: path) }
    guard embedding.count == index.dimension else {
      throw GalleryError.dimensionMismatch(path: path, gallery: index.dimension, given: embedding.count)
    }
    let query = search.adaptation.map { $0(Vectors.normalised(embedding)) } ?? embedding
    let best = index.top(top, for: query)
    let decision = try decision("open_set")
    var openSetScore: Float? = nil
    if let adaptation = search.adaptation, let context = search.context, let first = best.first,
      decision.scoring == .gallery
    {
      openSetScore = Vectors.dot(adaptation.contextQuery(embedding), context[first.index])
    }
    return Identification(
      candidates: best.map { (index.names[$0.index], $0.score) }, threshold: decision.threshold,
      openSetScore: openSetScore)
  }

  /// Whether two embeddings share a source, at `threshold` or the gallery's calibrated one.
  ///
  /// In the gallery metric the pair is scored in the gallery's context
  /// (``GalleryAdaptation/verificationScore(_:_:)``: centred on the gallery's models and adapted to their
  /// scatter), unless the stored calibration scored its pairs by plain cosine (one made before that
  /// scoring existed, or from a folder): its threshold applies only to scores computed its way.
  public func verify(_ a: [Float], _ b: [Float], threshold: Float? = nil) throws -> Verification {
    precondition(a.count == b.count, "Gallery.verify: embeddings of \(a.count) and \(b.count) values")
    let decision = try decision("verification")
    let threshold = threshold ?? decision.threshold
    if let adaptation = try search().adaptation, a.count == adaptation.dimension, decision.scoring == .gallery {
      return Verification(score: adaptation.verificationScore(a, b), threshold: threshold, scoring: .gallery)
    }
    return Verification(score: Vectors.cosine(a, b), threshold: threshold)
  }

  // MARK: calibration

  /// The stored calibration, nil before ``store(_:)``.
  public func calibration() throws -> Calibration? {
    try read { db in
      try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'calibration'")
        .flatMap { try? JSONDecoder().decode(Calibration.self, from: Data($0.utf8)) }
    }
  }

  /// Stores a calibration; identification and verification then use its EER thresholds.
  public func store(_ calibration: Calibration) throws {
    let json = String(decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
    try write { db in
      let values = [
        "calibration": json, "open_set_threshold": "\(calibration.openSet.eerThreshold)",
        "verification_threshold": "\(calibration.verification.eerThreshold)",
        "open_set_scoring": (calibration.openSetScoring ?? .plain).rawValue,
        "verification_scoring": (calibration.verificationScoring ?? .plain).rawValue,
      ]
      for (k, v) in values {
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [k, v])
      }
    }
  }

  /// Calibrates from the gallery's own images (see ``Calibration``) and stores the result.
  @discardableResult
  public func calibrate(pairs: Int = 10_000, seed: UInt64 = 0) throws -> Calibration {
    let all = try embeddings()
    let names = Array(Set(all.map(\.model))).sorted()
    let labels = all.map { names.firstIndex(of: $0.model)! }
    let adaptation = try search().adaptation
    let c = try Calibration(
      embeddings: all.map(\.embedding), labels: labels, pairs: pairs, seed: seed, source: path,
      adaptation: adaptation)
    try store(c)
    return c
  }

  /// The calibrated threshold of a decision (`open_set` or `verification`: meta keys `NAME_threshold`,
  /// `NAME_scoring`), nil before calibration, and how the calibration computed the scores it applies to:
  /// `gallery` without a calibration (nothing to match), `plain` for one stored before the gallery's
  /// context existed. One read: identify and verify ask for it with every image.
  private func decision(_ name: String) throws -> (threshold: Float?, scoring: Scoring) {
    let stored = try read { db in
      (
        calibrated: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'calibration'") != nil,
        threshold: try String.fetchOne(
          db, sql: "SELECT value FROM meta WHERE key = ?", arguments: ["\(name)_threshold"]),
        scoring: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: ["\(name)_scoring"])
      )
    }
    let threshold = stored.threshold.flatMap(Float.init)
    guard stored.calibrated else { return (threshold, .gallery) }
    if let scoring = stored.scoring.flatMap(Scoring.init(rawValue:)) { return (threshold, scoring) }
    // A calibration stored with its scoring in its JSON only.
    let calibration = try calibration()
    let scoring = name == "open_set" ? calibration?.openSetScoring : calibration?.verificationScoring
    return (threshold, scoring ?? .plain)
  }

  // MARK: database access

  private func read<T>(_ body: (Database) throws -> T) throws -> T {
    do { return try db.read(body) } catch let e as DatabaseError {
      throw Self.error(e, path: path)
    } catch let e as RowDecodingError {
      throw Self.error(e, path: path)
    }
  }

  private func write<T>(_ body: (Database) throws -> T) throws -> T {
    do { return try db.write(body) } catch let e as DatabaseError {
      throw Self.error(e, path: path)
    } catch let e as RowDecodingError {
      throw Self.error(e, path: path)
    }
  }

  /// A value of the wrong type or NULL where the schema has NOT NULL: another program wrote the file.
  private static func error(_ e: RowDecodingError, path: String) -> GalleryError {
    .notAGallery(path: path, reason: "a damaged value in the database (\(String(describing: e).prefix(200)))")
  }

  private static func error(_ e: DatabaseError, path: String) -> GalleryError {
    switch e.resultCode {
    case .SQLITE_NOTADB: return .notAGallery(path: path, reason: "not an SQLite database")
    case .SQLITE_CORRUPT: return .notAGallery(path: path, reason: "the SQLite file is damaged")
    case .SQLITE_BUSY, .SQLITE_LOCKED: return .locked(path: path)
    default: return .storage(path: path, reason: e.message ?? "\(e.resultCode)")
    }
  }
}
