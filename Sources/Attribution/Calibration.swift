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

/// How a verification or open-set score is computed.
public enum Scoring: String, Codable, Sendable {
  /// Verification: the cosine of the two embeddings, no gallery involved. Open set: the best model's
  /// cosine in the metric identification ranks by.
  case plain
  /// In a gallery's context: centred on the gallery's models and adapted
  /// (``GalleryAdaptation/verificationScore(_:_:)``, ``GalleryAdaptation/contextQuery(_:)``).
  case gallery
}

/// Verification and open-set thresholds, as stored in a gallery.
public struct Calibration: Codable, Equatable, Sendable {
  /// Image-versus-image pairs.
  public var verification: OperatingPoints
  /// How the verification pairs were scored, and so how a score must be computed for the threshold to
  /// apply; nil in calibrations stored before scoring in a gallery's context existed (cosine).
  public var verificationScoring: Scoring?
  /// Image versus model fingerprints.
  public var openSet: OperatingPoints
  /// How the open-set scores were computed (the best model's score in the gallery's context, or its
  /// plain score in the metric identification ranks by); nil in calibrations stored before the context
  /// existed (plain).
  public var openSetScoring: Scoring?
  /// Where the labelled images came from (a gallery or folder path).
  public var source: String
  public var models: Int
  public var images: Int

  /// Most images for which the open-set calibration refits the adaptation without each image.
  public static let leaveOneOutImages = 256

  enum CodingKeys: String, CodingKey {
    case verification, source, models, images
    case verificationScoring = "verification_scoring"
    case openSetScoring = "open_set_scoring"
    case openSet = "open_set"
  }

  /// Thresholds from `embeddings` labelled by model; `pairs` seeded verification pairs, half same-model.
  /// Needs two models and one model with two images; `source` names them in errors.
  ///
  /// With `adaptation` (the gallery's metric), the open-set and verification scores are computed in the
  /// gallery's context, as its `identify` and `verify` compute them (``Scoring/gallery``; the impostor
  /// score of an image is that of the best other model in the adapted metric, the model `identify` would
  /// name). A query is never part of the images the adaptation
  /// is fitted on, so with up to ``leaveOneOutImages`` images each image is scored in an adaptation
  /// refitted without it (fitted with it, its own deviation is whitened away and the same-model scores,
  /// hence the threshold, come out too high), and so is each verification pair whose first image it is;
  /// beyond that one image moves the fit by little and `adaptation` is used for all.
  public init(
    embeddings: [[Float]], labels: [Int], pairs: Int = 10_000, seed: UInt64 = 0, source: String,
    adaptation: GalleryAdaptation? = nil
  ) throws {
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
    var pairScores = VerificationPairs.scores(drawn, normalised: normalised)
    let pairsByFirst = Dictionary(grouping: drawn.indices, by: { drawn[$0].a })
    // Pairs `ks` scored as `fit.verificationScore` scores them, each image mapped once for all its pairs.
    func scorePairs(_ ks: [Int], in fit: GalleryAdaptation) {
      let involved = Array(Set(ks.flatMap { [drawn[$0].a, drawn[$0].b] }))
      let position = Dictionary(uniqueKeysWithValues: involved.enumerated().map { ($1, $0) })
      let mapped = fit.contextQueries(involved.map { embeddings[$0] })
      for k in ks { pairScores[k] = Vectors.dot(mapped[position[drawn[k].a]!], mapped[position[drawn[k].b]!]) }
    }

    // Fingerprints are sums of normalised embeddings; with an adaptation, a fingerprint and a query are
    // mapped by it (a linear map, so a sum's image is the sum of the images), as the gallery scores them.
    let d = normalised[0].count
    var sums = [[Float]](repeating: [Float](repeating: 0, count: d), count: classes.count)
    for (i, u) in normalised.enumerated() {
      let c = classes.firstIndex(of: labels[i])!
      for j in 0..<d { sums[c][j] += u[j] }
    }
    func index(_ map: ([Float]) -> [Float]) -> FingerprintIndex {
      var index = FingerprintIndex(dimension: d)
      for (c, s) in sums.enumerated() { index.append(name: "\(classes[c])", fingerprint: map(s)) }
      return index
    }
    func mapping(_ a: GalleryAdaptation?) -> ([Float]) -> [Float] {
      { v in Vectors.normalised(a.map { $0(v) } ?? v) }
    }
    let refit = adaptation != nil && embeddings.count <= Self.leaveOneOutImages
    let shared = mapping(adaptation)
    if let adaptation, !refit { scorePairs(Array(drawn.indices), in: adaptation) }
    let sharedIndex = index(shared)
    // The open-set decision's scores in the gallery's context: fingerprints centred on c_f, the mean of
    // the normalised fingerprints (GalleryAdaptation's header), as the gallery's identify computes them.
    let unitRows = sums.flatMap(Vectors.normalised)
    let fingerprintCentre = GalleryAdaptation.fingerprintCentre(rows: unitRows, dimension: d)
    func contextRows(_ fit: GalleryAdaptation) -> [[Float]] {
      fit.contextFingerprints(rows: unitRows, centre: fingerprintCentre)
    }
    let sharedContext = adaptation.map(contextRows)
    var scores: [Float] = []
    var same: [Bool] = []
    for (i, u) in normalised.enumerated() {
      var map = shared
      var scored = sharedIndex
      var fit = adaptation
      var context = sharedContext
      if refit {
        let rest = embeddings.indices.filter { $0 != i }
        // Without a fit (no other model keeps two images) the shared one scores image i and its pairs,
        // so that every score is computed the same way.
        fit = try GalleryAdaptation.fit(rest.map { embeddings[$0] }, labels: rest.map { labels[$0] }) ?? adaptation
        map = mapping(fit)
        scored = index(map)
        context = fit.map(contextRows)
        scorePairs(pairsByFirst[i] ?? [], in: fit!)
      }
      let own = classes.firstIndex(of: labels[i])!
      let q = map(u)
      let all = scored.scores(q)
      // The impostor score: the best other model by rank, scored as the decision scores it.
      var best = (index: -1, score: -Float.infinity)
      for c in all.indices where c != own && all[c] > best.score { best = (c, all[c]) }
      let query = fit?.contextQuery(embeddings[i])
      if let context, let query {
        scores.append(Vectors.dot(query, context[best.index]))
      } else {
        scores.append(best.score)
      }
      same.append(false)
      if members[labels[i]]!.count >= 2 {
        let rest = zip(sums[own], u).map { $0 - $1 }
        if let fit, let query {
          let loo = fit.contextFingerprints(rows: Vectors.normalised(rest), centre: fingerprintCentre)[0]
          scores.append(Vectors.dot(query, loo))
        } else {
          scores.append(Vectors.dot(q, map(rest)))
        }
        same.append(true)
      }
    }
    openSet = OperatingPoints(scores: scores, same: same)
    verification = OperatingPoints(scores: pairScores, same: drawn.map(\.same))
    verificationScoring = adaptation == nil ? .plain : .gallery
    openSetScoring = verificationScoring
    self.source = source
    models = classes.count
    images = embeddings.count
  }
}
