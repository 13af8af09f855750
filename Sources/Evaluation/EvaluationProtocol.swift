// The evaluation protocol on a folder-per-model set (../shared/DESIGN.md, "Evaluation protocol"):
// 1:N with the first n-shot images of each model enrolled, 1:1 on seeded pairs half same-model, and
// cluster quality. `modelprint evaluate`, `modelprint calibrate`, training's zero-shot and dev scores
// and the report all run these functions, so their numbers agree everywhere.

/// The protocol's numbers for one set of embeddings. All rates are fractions.
public struct EvaluationResult: Codable, Equatable, Sendable {
  /// 1:N identification.
  public struct Identification: Codable, Equatable, Sendable {
    public var accuracy: Double
    public var macroF1: Double
    /// Images enrolled per model and queries scored in all.
    public var nShot: Int
    public var queries: Int

    enum CodingKeys: String, CodingKey {
      case accuracy
      case macroF1 = "macro_f1"
      case nShot = "nshot"
      case queries
    }
  }

  /// 1:1 verification.
  public struct Verification: Codable, Equatable, Sendable {
    /// Accuracy at the best threshold over the observed scores.
    public var accuracy: Double
    public var auc: Double
    public var eer: Double
    public var tarAtFar1pct: Double
    /// The thresholds of the EER point and of the FAR 1 % operating point (nil when only accepting
    /// nothing keeps FAR at 1 %).
    public var eerThreshold: Double
    public var far1pctThreshold: Double?
    public var pairs: Int
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
      case accuracy, auc, eer, pairs, seed
      case tarAtFar1pct = "tar_at_far_1pct"
      case eerThreshold = "eer_threshold"
      case far1pctThreshold = "far_1pct_threshold"
    }
  }

  /// Cluster quality of all embeddings grouped by model.
  public struct Clusters: Codable, Equatable, Sendable {
    public var silhouette: Double
    public var daviesBouldin: Double

    enum CodingKeys: String, CodingKey {
      case silhouette
      case daviesBouldin = "davies_bouldin"
    }
  }

  public var identification: Identification
  public var verification: Verification
  public var clusters: Clusters
}

/// Runs the protocol on embeddings grouped by label.
public enum EvaluationProtocol {
  /// Images per model that enroll it, and verification pairs, unless a run asks for others.
  public static let defaultNShot = 10
  public static let defaultPairs = 10_000

  /// 1:N identification: the first `nShot` embeddings of each label enroll it (``EnrolledGallery``, with
  /// `metric` when given), the rest are queries; accuracy and macro-F1 of their predicted labels
  /// (``Metrics``).
  public static func identification(
    _ embeddings: [[Float]], labels: [Int], nShot: Int = defaultNShot, metric: (@Sendable ([Float]) -> [Float])? = nil
  ) -> EvaluationResult.Identification {
    let gallery = EnrolledGallery(embeddings, labels: labels, nShot: nShot, metric: metric)
    let (truth, predicted) = gallery.predictions(embeddings, labels: labels)
    return .init(
      accuracy: Metrics.accuracy(truth: truth, predicted: predicted),
      macroF1: Metrics.macroF1(truth: truth, predicted: predicted), nShot: nShot, queries: truth.count)
  }

  /// 1:1 verification on the seeded pairs of ``VerificationPairs``: best-threshold accuracy, AUC, EER and
  /// TAR at FAR 1 %, with the pairs' cosine scores and labels (for ROC curves and histograms).
  public static func verification(
    _ embeddings: [[Float]], labels: [Int], pairs: Int = defaultPairs, seed: UInt64 = 0
  ) -> (result: EvaluationResult.Verification, scores: [Float], same: [Bool]) {
    let drawn = VerificationPairs.draw(labels: labels, count: pairs, seed: seed)
    let scores = VerificationPairs.scores(drawn, normalised: embeddings.map(Vectors.normalised))
    let same = drawn.map(\.same)
    return (verification(scores: scores, same: same, seed: seed), scores, same)
  }

  /// The verification numbers of scored pairs (`same`: whether each pair shares a model) drawn with `seed`.
  public static func verification(scores: [Float], same: [Bool], seed: UInt64) -> EvaluationResult.Verification {
    precondition(scores.count == same.count, "verification: \(scores.count) scores, \(same.count) labels")
    let roc = ROCCurve(scores: scores, same: same)
    let eer = roc.equalErrorRate
    let tar = roc.truePositiveRate(atFalsePositiveRate: 0.01)
    return EvaluationResult.Verification(
      accuracy: Metrics.bestThresholdAccuracy(scores: scores, same: same).accuracy, auc: roc.auc, eer: eer.rate,
      tarAtFar1pct: tar.rate, eerThreshold: Double(eer.threshold),
      far1pctThreshold: tar.threshold.isFinite ? Double(tar.threshold) : nil, pairs: scores.count, seed: seed)
  }

  /// Scores `embeddings` with their model `labels` (images of each label in sorted file order, since the
  /// first `nShot` of each enroll it). Needs two or more labels with two or more embeddings each.
  ///
  /// - Returns: the result, and the verification pairs' scores and labels (for ROC curves and histograms).
  public static func evaluate(
    _ embeddings: [[Float]], labels: [Int], nShot: Int = defaultNShot, pairs: Int = defaultPairs, seed: UInt64 = 0
  ) -> (result: EvaluationResult, scores: [Float], same: [Bool]) {
    precondition(embeddings.count == labels.count, "evaluate: \(embeddings.count) embeddings, \(labels.count) labels")
    let members = Dictionary(grouping: labels, by: { $0 })
    precondition(
      members.count >= 2 && members.values.allSatisfy { $0.count >= 2 },
      "evaluate: needs 2 or more labels with 2 or more embeddings each")
    let verification = verification(embeddings, labels: labels, pairs: pairs, seed: seed)
    let result = EvaluationResult(
      identification: identification(embeddings, labels: labels, nShot: nShot),
      verification: verification.result,
      clusters: .init(
        silhouette: ClusterMetrics.silhouette(embeddings, labels: labels),
        daviesBouldin: ClusterMetrics.daviesBouldin(embeddings, labels: labels)))
    return (result, verification.scores, verification.same)
  }
}
