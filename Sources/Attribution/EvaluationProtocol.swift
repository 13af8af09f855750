// The evaluation protocol on a folder-per-model set (../shared/DESIGN.md, "Evaluation protocol"):
// 1:N with the first n-shot images of each model enrolled, 1:1 on seeded pairs half same-model, and
// cluster quality. Identification and the AUC / best-threshold accuracy of verification are Fingerprint's
// `oneToN` and `oneToOne`, which training reports too, so the numbers agree everywhere; the rest of
// verification (EER, TAR at FAR 1 %, the ROC) scores the very same pairs, drawn by ``VerificationPairs``.

import Fingerprint
import Tensor

/// Seeded verification pairs: even draws are same-model pairs, odd draws pairs of two different models.
public enum VerificationPairs {
  /// `count` pairs of indices into `labels`, drawn exactly as Fingerprint's `oneToOne` draws them when
  /// every label has two or more members. Labels with a single member only take part in different-model
  /// pairs. At least one label with two members and two distinct labels are needed.
  public static func draw(labels: [Int], count: Int, seed: UInt64) -> [(a: Int, b: Int, same: Bool)] {
    let classes = Array(Set(labels)).sorted()
    let members = Dictionary(grouping: labels.indices, by: { labels[$0] })
    let multi = classes.filter { members[$0]!.count >= 2 }
    precondition(
      classes.count >= 2 && !multi.isEmpty,
      "VerificationPairs: needs 2 labels and one with 2 members, got \(classes.count) labels, \(multi.count) with 2+")
    var rng = RNG(seed: seed)
    var out: [(Int, Int, Bool)] = []
    out.reserveCapacity(count)
    for k in 0..<count {
      if k % 2 == 0 {
        let m = members[multi[rng.int(multi.count)]]!
        let a = rng.int(m.count)
        var b = rng.int(m.count - 1)
        if b >= a { b += 1 }
        out.append((m[a], m[b], true))
      } else {
        let c1 = rng.int(classes.count)
        var c2 = rng.int(classes.count - 1)
        if c2 >= c1 { c2 += 1 }
        let m1 = members[classes[c1]]!
        let m2 = members[classes[c2]]!
        out.append((m1[rng.int(m1.count)], m2[rng.int(m2.count)], false))
      }
    }
    return out
  }

  /// Cosine scores of the pairs (dot products of the normalised embeddings, summed as `oneToOne` sums).
  public static func scores(_ pairs: [(a: Int, b: Int, same: Bool)], normalised: [[Float]]) -> [Float] {
    pairs.map { Vectors.dot(normalised[$0.a], normalised[$0.b]) }
  }
}

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
  /// Scores `embeddings` with their model `labels` (images of each label in sorted file order, since the
  /// first `nShot` of each enroll it).
  ///
  /// - Returns: the result, and the verification pairs' scores and labels (for ROC curves and histograms).
  public static func evaluate(
    _ embeddings: [[Float]], labels: [Int], nShot: Int = 10, pairs: Int = 10_000, seed: UInt64 = 0
  ) -> (result: EvaluationResult, scores: [Float], same: [Bool]) {
    precondition(embeddings.count == labels.count, "evaluate: \(embeddings.count) embeddings, \(labels.count) labels")
    let members = Dictionary(grouping: labels, by: { $0 })
    precondition(
      members.count >= 2 && members.values.allSatisfy { $0.count >= 2 },
      "evaluate: needs 2 or more labels with 2 or more embeddings each")
    let identification = oneToN(embeddings, labels: labels, nShot: nShot)
    let reference = oneToOne(embeddings, labels: labels, pairs: pairs, seed: seed)
    let drawn = VerificationPairs.draw(labels: labels, count: pairs, seed: seed)
    let normalised = embeddings.map(Vectors.normalised)
    let scores = VerificationPairs.scores(drawn, normalised: normalised)
    let same = drawn.map(\.same)
    let roc = ROCCurve(scores: scores, same: same)
    let eer = roc.equalErrorRate
    let tar = roc.truePositiveRate(atFalsePositiveRate: 0.01)
    let queries = members.values.reduce(0) { $0 + max($1.count - nShot, 0) }
    let result = EvaluationResult(
      identification: .init(
        accuracy: identification.accuracy, macroF1: identification.macroF1, nShot: nShot, queries: queries),
      verification: .init(
        accuracy: reference.accuracy, auc: reference.auc, eer: eer.rate, tarAtFar1pct: tar.rate,
        eerThreshold: Double(eer.threshold), far1pctThreshold: tar.threshold.isFinite ? Double(tar.threshold) : nil,
        pairs: pairs, seed: seed),
      clusters: .init(
        silhouette: ClusterMetrics.silhouette(embeddings, labels: labels),
        daviesBouldin: ClusterMetrics.daviesBouldin(embeddings, labels: labels)))
    return (result, scores, same)
  }
}
