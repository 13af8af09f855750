// Decision thresholds from labelled embeddings (a gallery's own images or a labelled folder).
//
// Verification compares two images, so its scores come from image pairs (drawn as the protocol draws
// them). Open-set identification compares an image with model fingerprints and looks at the best
// score only, so its genuine scores are each image against its own model's fingerprint computed without
// it (leave-one-out, as if the image were a new query), and its impostor scores are each image's best
// score among the other models' fingerprints (what an image of a model missing from the gallery would
// get). Each gets the threshold at the equal error rate and the one at a false accept rate of 1 %.

import Evaluation

/// Thresholds for one kind of decision.
public struct OperatingPoints: Codable, Equatable, Sendable {
  /// The equal error rate and its threshold.
  public var eer: Double
  public var eerThreshold: Double
  /// The true accept rate at FAR ≤ 1 % and its threshold (nil when only accepting nothing keeps FAR there).
  public var tarAtFar1pct: Double
  public var far1pctThreshold: Double?
  /// Genuine and impostor scores the points come from.
  public var genuine: Int
  public var impostor: Int

  enum CodingKeys: String, CodingKey {
    case eer, genuine, impostor
    case eerThreshold = "eer_threshold"
    case tarAtFar1pct = "tar_at_far_1pct"
    case far1pctThreshold = "far_1pct_threshold"
  }

  /// The points of genuine (`same`) and impostor scores.
  public init(scores: [Float], same: [Bool]) {
    let roc = ROCCurve(scores: scores, same: same)
    let e = roc.equalErrorRate
    let t = roc.truePositiveRate(atFalsePositiveRate: 0.01)
    eer = e.rate
    eerThreshold = Double(e.threshold)
    tarAtFar1pct = t.rate
    far1pctThreshold = t.threshold.isFinite ? Double(t.threshold) : nil
    genuine = same.filter { $0 }.count
    impostor = same.count - genuine
  }
}

/// Verification and open-set thresholds, as stored in a gallery.
public struct Calibration: Codable, Equatable, Sendable {
  /// Image-versus-image pairs.
  public var verification: OperatingPoints
  /// Image versus model fingerprints.
  public var openSet: OperatingPoints
  /// Where the labelled images came from (a gallery or folder path).
  public var source: String
  public var models: Int
  public var images: Int

  enum CodingKeys: String, CodingKey {
    case verification, source, models, images
    case openSet = "open_set"
  }

  /// Thresholds from `embeddings` labelled by model; `pairs` seeded verification pairs, half same-model.
  /// Needs two models and one model with two images; `source` names them in errors.
  public init(embeddings: [[Float]], labels: [Int], pairs: Int = 10_000, seed: UInt64 = 0, source: String) throws {
    precondition(
      embeddings.count == labels.count, "Calibration: \(embeddings.count) embeddings, \(labels.count) labels")
    let classes = Array(Set(labels)).sorted()
    let members = Dictionary(grouping: labels.indices, by: { labels[$0] })
    guard classes.count >= 2 else {
      throw GalleryError.cannotCalibrate(
        path: source, reason: "needs images of at least 2 models, got \(classes.count); enroll more models")
    }
    guard members.values.contains(where: { $0.count >= 2 }) else {
      throw GalleryError.cannotCalibrate(
        path: source, reason: "needs a model with at least 2 images; enroll more images per model")
    }
    let normalised = embeddings.map(Vectors.normalised)
    let drawn = VerificationPairs.draw(labels: labels, count: max(pairs, 2), seed: seed)
    verification = OperatingPoints(
      scores: VerificationPairs.scores(drawn, normalised: normalised), same: drawn.map(\.same))

    let d = normalised[0].count
    var sums = [[Float]](repeating: [Float](repeating: 0, count: d), count: classes.count)
    for (i, u) in normalised.enumerated() {
      let c = classes.firstIndex(of: labels[i])!
      for j in 0..<d { sums[c][j] += u[j] }
    }
    var index = FingerprintIndex(dimension: d)
    for (c, s) in sums.enumerated() { index.append(name: "\(classes[c])", fingerprint: Vectors.normalised(s)) }
    var scores: [Float] = []
    var same: [Bool] = []
    for (i, u) in normalised.enumerated() {
      let own = classes.firstIndex(of: labels[i])!
      let all = index.scores(u)
      var best = -Float.infinity
      for c in all.indices where c != own { best = max(best, all[c]) }
      scores.append(best)
      same.append(false)
      if members[labels[i]]!.count >= 2 {
        let rest = Vectors.normalised(zip(sums[own], u).map { $0 - $1 })
        scores.append(Vectors.dot(u, rest))
        same.append(true)
      }
    }
    openSet = OperatingPoints(scores: scores, same: same)
    self.source = source
    models = classes.count
    images = embeddings.count
  }
}
