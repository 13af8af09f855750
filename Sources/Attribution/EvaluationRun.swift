// Everything one method's evaluation produces, kept together so that the command's table, its JSON and
// the HTML report read the same numbers: the protocol's result, the verification pairs' scores (ROC,
// histograms), the 1:N predictions (confusion matrix, per-model accuracy), the enrolled fingerprints'
// nearest neighbours (lineage) and, when unknown models are given, the open-set AUROC.

import Evaluation

/// Per-query detail of 1:N identification on the protocol's gallery.
public struct IdentificationDetails: Sendable {
  /// The enrolled gallery the queries were scored against.
  public let gallery: EnrolledGallery
  /// counts[truth][predicted], indexed by position in `gallery.classes`.
  public let confusion: [[Int]]
  /// Share of each model's queries attributed to it; nil for a model without queries.
  public let perModelAccuracy: [Double?]
  /// For each model, the other model whose fingerprint is nearest by cosine (nil with a single model).
  public let lineage: [(nearest: Int, score: Float)?]

  /// Scores every query of the first-`nShot` enrollment (in `metric` when given).
  public init(_ embeddings: [[Float]], labels: [Int], nShot: Int, metric: (@Sendable ([Float]) -> [Float])? = nil) {
    gallery = EnrolledGallery(embeddings, labels: labels, nShot: nShot, metric: metric)
    let n = gallery.classes.count
    let position = Dictionary(uniqueKeysWithValues: gallery.classes.enumerated().map { ($1, $0) })
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: n), count: n)
    for q in gallery.queries {
      confusion[position[labels[q]]!][gallery.best(embeddings[q]).index] += 1
    }
    self.confusion = confusion
    perModelAccuracy = confusion.enumerated().map { i, row in
      let total = row.reduce(0, +)
      return total == 0 ? nil : Double(row[i]) / Double(total)
    }
    let fingerprints = gallery.fingerprints
    lineage = (0..<n).map { i in
      var best: (nearest: Int, score: Float)? = nil
      for j in 0..<n where j != i {
        let s = Vectors.dot(fingerprints[i], fingerprints[j])
        if best == nil || s > best!.score { best = (j, s) }
      }
      return best
    }
  }

  /// Correct queries over all queries (equals the protocol's identification accuracy).
  public var accuracy: Double {
    let total = confusion.reduce(0) { $0 + $1.reduce(0, +) }
    return Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(max(total, 1))
  }
}

/// One method evaluated on one labelled set.
public struct EvaluationRun: Sendable {
  /// The method's name (`modelprint`, `marra`, `spectrum`).
  public var method: String
  /// Model names; label `i` is `models[i]`.
  public var models: [String]
  /// One embedding per image, with its model label.
  public var embeddings: [[Float]]
  public var labels: [Int]
  /// The protocol's numbers.
  public var result: EvaluationResult
  /// Verification pairs' cosine scores and whether each pair shares a model.
  public var pairScores: [Float]
  public var pairSame: [Bool]
  public var identification: IdentificationDetails
  /// Present when unknown models were scored.
  public var openSet: OpenSetResult?
  /// Present with a gallery adaptation: verification of the protocol's pairs in the gallery's context.
  public var galleryVerification: GalleryVerification?

  /// Runs the protocol (and the open set when `unknown` is given) on embeddings labelled 0..<models.count.
  public static func evaluate(
    method: String, models: [String], embeddings: [[Float]], labels: [Int], unknown: [[Float]]? = nil,
    nShot: Int, pairs: Int, seed: UInt64, adaptation: Bool = false
  ) throws -> EvaluationRun {
    precondition(labels.allSatisfy { models.indices.contains($0) }, "EvaluationRun: labels outside 0..<\(models.count)")
    var (result, scores, same) = EvaluationProtocol.evaluate(
      embeddings, labels: labels, nShot: nShot, pairs: pairs, seed: seed)
    // 1:N and the open set score against the enrolled gallery, so they see what a gallery would: its
    // adaptation, fitted on the enrolled images only. The protocol's verification and clusters stay
    // gallery-free; the same pairs are also scored in the gallery's context (GalleryVerification).
    var metric: (@Sendable ([Float]) -> [Float])? = nil
    var galleryVerification: GalleryVerification? = nil
    var context: GalleryAdaptation? = nil
    if adaptation {
      let enrolled = EnrolledGallery.enrolledIndices(labels: labels, nShot: nShot)
      if let fit = try GalleryAdaptation.fit(enrolled.map { embeddings[$0] }, labels: enrolled.map { labels[$0] }) {
        metric = { fit($0) }
        context = fit
        result.identification = EvaluationProtocol.identification(
          embeddings, labels: labels, nShot: nShot, metric: metric)
        galleryVerification = GalleryVerification(
          embeddings, labels: labels, enrolled: enrolled, adaptation: fit, pairs: pairs, seed: seed)
      }
    }
    let openSet = unknown.map {
      OpenSetEvaluation.evaluate(
        embeddings, labels: labels, unknown: $0, nShot: nShot, metric: metric, context: context
      ).result
    }
    return EvaluationRun(
      method: method, models: models, embeddings: embeddings, labels: labels, result: result, pairScores: scores,
      pairSame: same, identification: IdentificationDetails(embeddings, labels: labels, nShot: nShot, metric: metric),
      openSet: openSet, galleryVerification: galleryVerification)
  }
}

/// The protocol's verification pairs scored in a gallery's context (``GalleryAdaptation/verificationScore(_:_:)``,
/// fitted on the enrolled images only), as a gallery's `verify` scores them.
public struct GalleryVerification: Codable, Equatable, Sendable {
  /// On all of the protocol's pairs (the same pairs as the gallery-free verification).
  public var all: EvaluationResult.Verification
  /// AUC on the pairs of two queries only (nil without both kinds of pair among them): the adaptation
  /// was fitted on the enrolled images, so pairs holding one are scored in a metric that has seen them;
  /// this figure shows what that is worth.
  public var aucQueryPairs: Double?
  public var queryPairs: Int

  enum CodingKeys: String, CodingKey {
    case all
    case aucQueryPairs = "auc_query_pairs"
    case queryPairs = "query_pairs"
  }

  /// Scores the pairs `VerificationPairs.draw(labels:count:seed:)` draws with `adaptation`.
  public init(
    _ embeddings: [[Float]], labels: [Int], enrolled: [Int], adaptation: GalleryAdaptation, pairs: Int, seed: UInt64
  ) {
    let drawn = VerificationPairs.draw(labels: labels, count: pairs, seed: seed)
    let mapped = adaptation.contextQueries(embeddings)
    let scores = drawn.map { Vectors.dot(mapped[$0.a], mapped[$0.b]) }
    let same = drawn.map(\.same)
    all = EvaluationProtocol.verification(scores: scores, same: same, seed: seed)
    let isEnrolled = Set(enrolled)
    let queries = drawn.indices.filter { !isEnrolled.contains(drawn[$0].a) && !isEnrolled.contains(drawn[$0].b) }
    let querySame = queries.map { same[$0] }
    queryPairs = queries.count
    aucQueryPairs =
      querySame.contains(true) && querySame.contains(false)
      ? ROCCurve(scores: queries.map { scores[$0] }, same: querySame).auc : nil
  }
}

/// One point of a robustness curve: the protocol's result under one perturbation.
public struct SweepPoint: Codable, Equatable, Sendable {
  /// The quality or ratio.
  public var value: Double
  /// The perturbation spec (`jpeg:90`, `crop:0.8`).
  public var perturbation: String
  public var identification: EvaluationResult.Identification
  public var verification: EvaluationResult.Verification
  public var clusters: EvaluationResult.Clusters
  public var openSet: OpenSetResult?

  enum CodingKeys: String, CodingKey {
    case value, perturbation, identification, verification, clusters
    case openSet = "open_set"
  }

  /// The point of `run`, evaluated under `perturbation`.
  public init(_ perturbation: Perturbation, run: EvaluationRun) {
    value = perturbation.value
    self.perturbation = perturbation.description
    identification = run.result.identification
    verification = run.result.verification
    clusters = run.result.clusters
    openSet = run.openSet
  }
}

/// A method's robustness curve over one perturbation family (paper Fig. 16).
public struct SweepCurve: Codable, Equatable, Sendable {
  /// The method's name.
  public var method: String
  /// `jpeg` or `crop`.
  public var kind: String
  /// The points, in the order evaluated (mildest perturbation first).
  public var points: [SweepPoint]

  public init(method: String, kind: Perturbation.Kind, points: [SweepPoint]) {
    self.method = method
    self.kind = kind.rawValue
    self.points = points
  }
}
