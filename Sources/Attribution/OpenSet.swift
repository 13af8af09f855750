// Open-set evaluation (paper §IV-C): can the best gallery score tell images of enrolled models from
// images of models the gallery has never seen? The gallery is the protocol's n-shot enrollment; known
// queries are the rest of the enrolled models' images, unknown queries every image of other models. The
// score of a query is the score `identify` thresholds: its best cosine to any fingerprint, or in the
// gallery metric that best model's score in the gallery's context; the AUROC treats known queries as
// positives.

import Evaluation

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
  /// `embeddings` (labelled, first `nShot` per label enrolled, scored in `metric`). Needs at least one query of each kind.
  ///
  /// - Returns: the result and the best-score of every known and unknown query.
  ///
  /// With `context` (the gallery adaptation `metric` comes from), a query's score is its best model's
  /// score in the gallery's context, as a gallery's `identify` decides (``GalleryAdaptation``).
  public static func evaluate(
    _ embeddings: [[Float]], labels: [Int], unknown: [[Float]], nShot: Int,
    metric: (@Sendable ([Float]) -> [Float])? = nil, context: GalleryAdaptation? = nil
  ) -> (result: OpenSetResult, known: [Float], unknown: [Float]) {
    let gallery = EnrolledGallery(embeddings, labels: labels, nShot: nShot, metric: metric)
    precondition(
      !gallery.queries.isEmpty && !unknown.isEmpty,
      "OpenSetEvaluation: \(gallery.queries.count) known and \(unknown.count) unknown queries; needs one of each")
    var score: ([Float]) -> Float = { gallery.best($0).score }
    if let context {
      let unit = EnrolledGallery(embeddings, labels: labels, nShot: nShot).fingerprints.flatMap { $0 }
      let d = context.dimension
      let rows = context.contextFingerprints(
        rows: unit, centre: GalleryAdaptation.fingerprintCentre(rows: unit, dimension: d))
      score = { e in
        let k = gallery.best(e).index
        return Vectors.dot(context.contextQuery(e), rows[k])
      }
    }
    let known = gallery.queries.map { score(embeddings[$0]) }
    let other = unknown.map(score)
    let roc = ROCCurve(
      scores: known + other, same: [Bool](repeating: true, count: known.count) + other.map { _ in false })
    return (
      OpenSetResult(
        auroc: roc.auc, galleryModels: gallery.classes.count, knownQueries: known.count, unknownQueries: other.count),
      known, other
    )
  }
}
