// Open-set evaluation (paper §IV-C): can the best gallery score tell images of enrolled models from
// images of models the gallery has never seen? The gallery is the protocol's n-shot enrollment; known
// queries are the rest of the enrolled models' images, unknown queries every image of other models. The
// score of a query is its best cosine to any fingerprint, the score `identify` thresholds; the AUROC
// treats known queries as positives.

/// The protocol's gallery: one fingerprint per label from the first `nShot` embeddings of that label (in
/// the order given, i.e. sorted file order); the label's other embeddings are its queries.
public struct EnrolledGallery: Sendable {
  /// The distinct labels, ascending; fingerprint `k` belongs to `classes[k]`.
  public let classes: [Int]
  /// Normalised fingerprints, one per class.
  public let fingerprints: [[Float]]
  /// Indices of the embeddings that were not enrolled.
  public let queries: [Int]

  /// Enrolls the first `nShot` embeddings of every label (`Vectors.fingerprint`, as `oneToN`).
  public init(_ embeddings: [[Float]], labels: [Int], nShot: Int) {
    precondition(
      embeddings.count == labels.count, "EnrolledGallery: \(embeddings.count) embeddings, \(labels.count) labels")
    precondition(nShot >= 1 && !embeddings.isEmpty, "EnrolledGallery: needs embeddings and nShot ≥ 1")
    classes = Array(Set(labels)).sorted()
    var fingerprints: [[Float]] = []
    var queries: [Int] = []
    for c in classes {
      let idx = labels.indices.filter { labels[$0] == c }
      fingerprints.append(Vectors.fingerprint(idx.prefix(nShot).map { embeddings[$0] }))
      queries += idx.dropFirst(nShot)
    }
    self.fingerprints = fingerprints
    self.queries = queries
  }

  /// The best fingerprint for an embedding: its position in ``classes`` and the cosine (ties: the lower
  /// class, as `oneToN`).
  public func best(_ embedding: [Float]) -> (index: Int, score: Float) {
    let q = Vectors.normalised(embedding)
    var best = (index: 0, score: -Float.infinity)
    for (k, f) in fingerprints.enumerated() {
      let s = Vectors.dot(f, q)
      if s > best.score { best = (k, s) }
    }
    return best
  }
}

/// Open-set AUROC and what it was computed on.
public struct OpenSetResult: Codable, Equatable, Sendable {
  /// Area under the ROC of known (positive) versus unknown queries by best gallery score.
  public var auroc: Double
  public var galleryModels: Int
  public var knownQueries: Int
  public var unknownQueries: Int

  public init(auroc: Double, galleryModels: Int, knownQueries: Int, unknownQueries: Int) {
    self.auroc = auroc
    self.galleryModels = galleryModels
    self.knownQueries = knownQueries
    self.unknownQueries = unknownQueries
  }

  enum CodingKeys: String, CodingKey {
    case auroc
    case galleryModels = "gallery_models"
    case knownQueries = "known_queries"
    case unknownQueries = "unknown_queries"
  }
}

/// Scores known and unknown queries against the protocol's gallery.
public enum OpenSetEvaluation {
  /// The open-set AUROC of `unknown` embeddings (models outside the gallery) against the queries of
  /// `embeddings` (labelled, first `nShot` per label enrolled). Needs at least one query of each kind.
  ///
  /// - Returns: the result and the best-score of every known and unknown query.
  public static func evaluate(
    _ embeddings: [[Float]], labels: [Int], unknown: [[Float]], nShot: Int
  ) -> (result: OpenSetResult, known: [Float], unknown: [Float]) {
    let gallery = EnrolledGallery(embeddings, labels: labels, nShot: nShot)
    precondition(
      !gallery.queries.isEmpty && !unknown.isEmpty,
      "OpenSetEvaluation: \(gallery.queries.count) known and \(unknown.count) unknown queries; needs one of each")
    let known = gallery.queries.map { gallery.best(embeddings[$0]).score }
    let other = unknown.map { gallery.best($0).score }
    let roc = ROCCurve(
      scores: known + other, same: [Bool](repeating: true, count: known.count) + other.map { _ in false })
    return (
      OpenSetResult(
        auroc: roc.auc, galleryModels: gallery.classes.count, knownQueries: known.count, unknownQueries: other.count),
      known, other
    )
  }
}
