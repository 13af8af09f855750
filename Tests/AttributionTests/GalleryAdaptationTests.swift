import Attribution
import Evaluation
import Foundation
import Tensor
import XCTest

/// The gallery-adapted metric: its matrix against a Float64 reference, its weight rule, its use in the
/// protocol, the gallery and the calibration.
final class GalleryAdaptationTests: XCTestCase {
  /// Embeddings of `classes` models whose within-model scatter is stretched along the first axis.
  static func stretched(classes: Int, per: Int, dim: Int, seed: UInt64) -> ([[Float]], [Int]) {
    var rng = RNG(seed: seed)
    var embeddings: [[Float]] = []
    var labels: [Int] = []
    for c in 0..<classes {
      let centre = (0..<dim).map { _ in 2 * rng.normal() }
      for _ in 0..<per {
        embeddings.append(centre.enumerated().map { j, x in x + (j == 0 ? 3 : 0.5) * rng.normal() })
        labels.append(c)
      }
    }
    return (embeddings, labels)
  }

  /// M = (1 − α) I + α S from the definition, in Float64.
  static func referenceMix(_ e: [[Float]], labels: [Int]) -> (m: [[Double]], alpha: Double) {
    let d = e[0].count
    let groups = Dictionary(grouping: e.indices, by: { labels[$0] }).values.filter { $0.count >= 2 }
    let images = groups.reduce(0) { $0 + $1.count }
    let n = groups.reduce(0) { $0 + $1.count - 1 }
    let alpha = Double(n) / Double(n + d)
    var s = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
    for g in groups {
      let mean = (0..<d).map { j in g.reduce(0) { $0 + Double(e[$1][j]) } / Double(g.count) }
      for i in g {
        for a in 0..<d {
          for b in 0..<d { s[a][b] += (Double(e[i][a]) - mean[a]) * (Double(e[i][b]) - mean[b]) / Double(images) }
        }
      }
    }
    let m = (0..<d).map { a in (0..<d).map { b in alpha * s[a][b] + (a == b ? 1 - alpha : 0) } }
    return (m, alpha)
  }

  /// B M B = I and B = Bᵀ: B is M's inverse square root. Error model: M's condition number κ is at most
  /// ~40 here; Float32 storage of B (relative 6e-8) and the Float64 products give |BMB − I| ≲ κ · 1e-6.
  func testMatrixIsTheInverseSquareRootOfTheMix() throws {
    let (e, labels) = Self.stretched(classes: 5, per: 7, dim: 6, seed: 1)
    let fit = try XCTUnwrap(try GalleryAdaptation.fit(e, labels: labels))
    let (m, alpha) = Self.referenceMix(e, labels: labels)
    XCTAssertEqual(fit.weight, alpha, accuracy: 1e-12)
    XCTAssertEqual(fit.degreesOfFreedom, 30)
    let d = 6
    let b = (0..<d).map { i in (0..<d).map { j in Double(fit.matrix[i * d + j]) } }
    for i in 0..<d {
      for j in 0..<d {
        XCTAssertEqual(b[i][j], b[j][i], accuracy: 1e-6, "B is symmetric")
        var bmb = 0.0
        for k in 0..<d { for l in 0..<d { bmb += b[i][k] * m[k][l] * b[l][j] } }
        XCTAssertEqual(bmb, i == j ? 1 : 0, accuracy: 4e-5, "(BMB)[\(i), \(j)]")
      }
    }
    // The stretched axis is the one shrunk most.
    XCTAssertLessThan(b[0][0], b[1][1])
  }

  func testWeightRuleAndNothingToFit() throws {
    XCTAssertEqual(GalleryAdaptation.weight(degreesOfFreedom: 60, dimension: 256), 60.0 / 316, accuracy: 1e-15)
    XCTAssertEqual(GalleryAdaptation.weight(degreesOfFreedom: 0, dimension: 256), 0)
    XCTAssertNil(try GalleryAdaptation.fit([[1, 0], [0, 1]], labels: [0, 1]), "no model with two images")
    XCTAssertNil(try GalleryAdaptation.fit([], labels: []))
    XCTAssertThrowsError(try GalleryAdaptation.fit([[1, 0], [0, 1, 2]], labels: [0, 0]))
    XCTAssertThrowsError(try GalleryAdaptation.fit([[1, .nan], [0, 1]], labels: [0, 0]))
  }

  /// The batched map (sgemm) and the per-vector one agree on random shapes; both are sums of D products,
  /// so they differ by the Float32 rounding of a D-term dot product: ≲ D · 2⁻²⁴ · Σ|terms|.
  func testBatchedMapMatchesThePlainOne() throws {
    var rng = RNG(seed: 5)
    for (d, rows) in [(3, 1), (8, 13), (17, 40)] {
      let (e, labels) = Self.stretched(classes: 4, per: 5, dim: d, seed: UInt64(d))
      let fit = try XCTUnwrap(try GalleryAdaptation.fit(e, labels: labels))
      let x = (0..<(rows * d)).map { _ in rng.normal() }
      let batched = fit.apply(rows: x)
      for r in 0..<rows {
        let v = Array(x[(r * d)..<((r + 1) * d)])
        let plain = fit(v)
        for j in 0..<d {
          let bound = Float(d) * 6e-8 * (0..<d).reduce(Float(0)) { $0 + abs(v[$1] * fit.matrix[$1 * d + j]) } + 1e-7
          XCTAssertEqual(batched[r * d + j], plain[j], accuracy: bound, "d \(d) row \(r) col \(j)")
        }
      }
    }
  }

  /// When models differ along the axis their images vary most, the plain cosine confuses them and the
  /// adapted one tells them apart; the adaptation sees only the enrolled images.
  func testAdaptationHelpsWhereTheWithinModelScatterIsNotIsotropic() throws {
    let (e, labels) = Self.stretched(classes: 8, per: 12, dim: 10, seed: 7)
    let enrolled = EnrolledGallery.enrolledIndices(labels: labels, nShot: 6)
    XCTAssertEqual(enrolled.count, 48)
    XCTAssertEqual(Set(enrolled.map { labels[$0] }).count, 8)
    let fit = try XCTUnwrap(try GalleryAdaptation.fit(enrolled.map { e[$0] }, labels: enrolled.map { labels[$0] }))
    let plain = EvaluationProtocol.identification(e, labels: labels, nShot: 6)
    let adapted = EvaluationProtocol.identification(e, labels: labels, nShot: 6, metric: { fit($0) })
    XCTAssertEqual(plain.queries, adapted.queries)
    XCTAssertGreaterThan(adapted.accuracy, plain.accuracy)
  }

  /// A gallery in its (default) gallery metric ranks exactly as the protocol's gallery with the same
  /// adaptation: the product and `evaluate` compute one thing.
  func testGalleryMetricMatchesTheProtocol() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adapt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let identity = ExtractorIdentity(sha256: String(repeating: "ef", count: 32), settings: "{}", path: nil)
    let (e, labels) = Self.stretched(classes: 5, per: 9, dim: 8, seed: 3)
    let nShot = 4
    let g = try Gallery(at: folder.appendingPathComponent("g.sqlite"), extractor: identity)
    XCTAssertEqual(try g.metric(), .gallery, "new galleries adapt")
    for c in 0..<5 {
      let idx = labels.indices.filter { labels[$0] == c }.prefix(nShot)
      try g.enroll(model: "m\(c)", images: idx.map { ("img-\($0)", e[$0]) })
    }
    let enrolled = EnrolledGallery.enrolledIndices(labels: labels, nShot: nShot)
    let fit = try XCTUnwrap(try GalleryAdaptation.fit(enrolled.map { e[$0] }, labels: enrolled.map { labels[$0] }))
    let protocolGallery = EnrolledGallery(e, labels: labels, nShot: nShot, metric: { fit($0) })
    for q in protocolGallery.queries {
      let expected = protocolGallery.best(e[q])
      let got = try g.identify(e[q], top: 1).candidates[0]
      XCTAssertEqual(got.model, "m\(protocolGallery.classes[expected.index])")
      // Sums of the same terms in different orders (SQLite's row order, BLAS): a few Float32 ulps of 1.
      XCTAssertEqual(got.score, expected.score, accuracy: 1e-4)
    }
    // Verification is scored in the gallery's context, with the same fit (the enrolled images).
    let (a, b) = (e[protocolGallery.queries[0]], e[protocolGallery.queries[1]])
    let v = try g.verify(a, b)
    XCTAssertEqual(v.scoring, .gallery)
    XCTAssertEqual(v.score, fit.verificationScore(a, b), accuracy: 1e-4)
    // The open-set decision's score: the best model's, in the gallery's context.
    let unit = EnrolledGallery(e, labels: labels, nShot: nShot).fingerprints.flatMap { $0 }
    let rows = fit.contextFingerprints(
      rows: unit, centre: GalleryAdaptation.fingerprintCentre(rows: unit, dimension: 8))
    let k = protocolGallery.best(a).index
    let expectedOpenSet = Vectors.dot(fit.contextQuery(a), rows[k])
    XCTAssertEqual(try XCTUnwrap(try g.identify(a, top: 1).openSetScore), expectedOpenSet, accuracy: 1e-4)
    // `a` is the protocol's first query, so the open-set evaluation's first known score is its.
    let known = OpenSetEvaluation.evaluate(
      e, labels: labels, unknown: [b], nShot: nShot, metric: { fit($0) }, context: fit
    ).known
    XCTAssertEqual(known[0], expectedOpenSet, accuracy: 1e-4, "evaluate's open set scores as identify decides")
    // A calibration that scored its pairs by cosine (stored before the context existed, or from a
    // folder) keeps cosine scores, which its threshold was set on.
    var legacy = try Calibration(embeddings: e, labels: labels, pairs: 200, source: "folder")
    XCTAssertEqual(legacy.verificationScoring, .plain)
    legacy.verificationScoring = nil
    legacy.openSetScoring = nil
    try g.store(legacy)
    XCTAssertEqual(try g.verify(a, b).scoring, .plain)
    XCTAssertNil(try g.identify(a, top: 1).openSetScore, "an old calibration decides on the best score")
    XCTAssertEqual(try g.verify(a, b).score, Vectors.cosine(a, b), accuracy: 1e-6)
    // The synthetic metric is the plain cosine; switching removes the calibration.
    try g.calibrate(pairs: 200)
    XCTAssertEqual(try g.calibration()?.verificationScoring, .gallery)
    XCTAssertEqual(try g.verify(a, b).scoring, .gallery)
    try g.setMetric(.synthetic)
    XCTAssertNil(try g.calibration(), "a calibration of the other metric is removed")
    XCTAssertEqual(try Gallery(at: folder.appendingPathComponent("g.sqlite"), extractor: nil).metric(), .synthetic)
    let plain = EnrolledGallery(e, labels: labels, nShot: nShot)
    for q in plain.queries.prefix(5) {
      XCTAssertEqual(try g.identify(e[q], top: 1).candidates[0].score, plain.best(e[q]).score, accuracy: 1e-4)
    }
  }

  /// Calibrating in the gallery metric scores every image in an adaptation fitted without it (small
  /// galleries), so an image's same-model score is what a fresh query of its model would get. Reference:
  /// the rule written out with plain dot products in Float64.
  func testCalibrationLeavesEachImageOutOfTheFit() throws {
    let (e, labels) = Self.stretched(classes: 4, per: 5, dim: 6, seed: 9)
    let all = try XCTUnwrap(try GalleryAdaptation.fit(e, labels: labels))
    let loo = try Calibration(embeddings: e, labels: labels, pairs: 100, source: "t", adaptation: all)
    let u = e.map(Vectors.normalised)
    func unit(_ v: [Float]) -> [Double] {
      let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
      return v.map { Double($0) / n }
    }
    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    func sum(_ idx: [Int]) -> [Float] {
      idx.reduce([Float](repeating: 0, count: 6)) { s, i in zip(s, u[i]).map { $0 + $1 } }
    }
    // The decision's score in the gallery's context: (û − c) B against (f̂ − c_f) B, c_f the mean of the
    // four models' normalised fingerprints; the impostor is the best other model in the adapted metric.
    let fingerprints = (0..<4).map { c in unit(sum(e.indices.filter { labels[$0] == c })) }
    let cf = (0..<6).map { j in fingerprints.reduce(0.0) { $0 + $1[j] } / 4 }
    func context(_ v: [Double], centre: [Double], _ fit: GalleryAdaptation) -> [Double] {
      let x = zip(v, centre).map { $0 - $1 }
      return unitD((0..<6).map { j in (0..<6).reduce(0.0) { $0 + x[$1] * Double(fit.matrix[$1 * 6 + j]) } })
    }
    func unitD(_ v: [Double]) -> [Double] {
      let n = v.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
      return v.map { $0 / n }
    }
    var scores: [Float] = []
    var same: [Bool] = []
    for i in e.indices {
      let rest = e.indices.filter { $0 != i }
      let fit = try XCTUnwrap(try GalleryAdaptation.fit(rest.map { e[$0] }, labels: rest.map { labels[$0] }))
      let q = unit(fit(u[i]))
      let others = (0..<4).filter { $0 != labels[i] }
      let ranked = others.map { c in dot(q, unit(fit(sum(e.indices.filter { labels[$0] == c })))) }
      let best = others[ranked.firstIndex(of: ranked.max()!)!]
      let query = context(unit(u[i]), centre: fit.centre.map(Double.init), fit)
      scores.append(Float(dot(query, context(fingerprints[best], centre: cf, fit))))
      same.append(false)
      let own = unit(sum(rest.filter { labels[$0] == labels[i] }))
      scores.append(Float(dot(query, context(own, centre: cf, fit))))
      same.append(true)
    }
    let expected = OperatingPoints(scores: scores, same: same)
    XCTAssertEqual(loo.openSet.genuine, expected.genuine)
    XCTAssertEqual(loo.openSet.impostor, expected.impostor)
    // Float32 cosines against Float64 ones: a few ulps of 1, far below the gaps between the 40 scores.
    XCTAssertEqual(loo.openSet.eerThreshold, expected.eerThreshold, accuracy: 1e-5)
    XCTAssertEqual(loo.openSet.eer, expected.eer, accuracy: 1e-12)
    let plain = try Calibration(embeddings: e, labels: labels, pairs: 100, source: "t")
    XCTAssertEqual(plain.verificationScoring, .plain)
    XCTAssertEqual(loo.verificationScoring, .gallery)
    XCTAssertEqual(plain.openSetScoring, .plain)
    XCTAssertEqual(loo.openSetScoring, .gallery)

    // Verification pairs: each scored in the gallery's context with the fit that leaves its first image out.
    let drawn = VerificationPairs.draw(labels: labels, count: 100, seed: 0)
    var pairScores: [Float] = []
    for p in drawn {
      let rest = e.indices.filter { $0 != p.a }
      let fit = try XCTUnwrap(try GalleryAdaptation.fit(rest.map { e[$0] }, labels: rest.map { labels[$0] }))
      pairScores.append(Float(Self.referenceVerificationScore(e[p.a], e[p.b], fit)))
    }
    let expectedPairs = OperatingPoints(scores: pairScores, same: drawn.map(\.same))
    XCTAssertEqual(loo.verification.genuine, expectedPairs.genuine)
    XCTAssertEqual(loo.verification.eerThreshold, expectedPairs.eerThreshold, accuracy: 1e-5)
    XCTAssertEqual(loo.verification.eer, expectedPairs.eer, accuracy: 1e-12)
  }

  /// cos((û − c) B, (v̂ − c) B) from the definition, in Float64, with the fit's c and B.
  static func referenceVerificationScore(_ a: [Float], _ b: [Float], _ fit: GalleryAdaptation) -> Double {
    let d = fit.dimension
    func image(_ v: [Float]) -> [Double] {
      let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
      let x = (0..<d).map { Double(v[$0]) / n - Double(fit.centre[$0]) }
      return (0..<d).map { j in (0..<d).reduce(0.0) { $0 + x[$1] * Double(fit.matrix[$1 * d + j]) } }
    }
    let (x, y) = (image(a), image(b))
    let dot = zip(x, y).reduce(0.0) { $0 + $1.0 * $1.1 }
    let nx = x.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
    let ny = y.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
    return dot / (nx * ny)
  }

  /// c is the mean over models of their mean normalised embedding (each model weighs the same), zero for
  /// a single model; the score is the cosine of the centred, adapted pair. Error model: Float32 sums of
  /// at most 10 unit-scale terms (c) and cosines of D = 6 products: a few ulps, bounded by 1e-5.
  func testVerificationScoreCentresOnTheModelsThenAdapts() throws {
    let (e0, labels0) = Self.stretched(classes: 4, per: 6, dim: 6, seed: 21)
    // One model with many more images: an image-weighted mean would lean towards it.
    let (extra, _) = Self.stretched(classes: 1, per: 10, dim: 6, seed: 22)
    let e = e0 + extra
    let labels = labels0 + [Int](repeating: 4, count: 10)
    let fit = try XCTUnwrap(try GalleryAdaptation.fit(e, labels: labels))
    var expected = [Double](repeating: 0, count: 6)
    for c in 0..<5 {
      let idx = labels.indices.filter { labels[$0] == c }
      for i in idx {
        let n = e[i].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        for j in 0..<6 { expected[j] += Double(e[i][j]) / n / Double(idx.count) / 5 }
      }
    }
    for j in 0..<6 { XCTAssertEqual(Double(fit.centre[j]), expected[j], accuracy: 1e-6, "c[\(j)]") }
    var rng = RNG(seed: 23)
    for _ in 0..<20 {
      let a = (0..<6).map { _ in rng.normal() + 1 }
      let b = (0..<6).map { _ in rng.normal() + 1 }
      let got = fit.verificationScore(a, b)
      XCTAssertEqual(Double(got), Self.referenceVerificationScore(a, b, fit), accuracy: 1e-5)
      XCTAssertEqual(got, fit.verificationScore(b, a), accuracy: 1e-6, "symmetric")
    }
    let single = try XCTUnwrap(try GalleryAdaptation.fit(Array(e0.prefix(6)), labels: Array(labels0.prefix(6))))
    XCTAssertEqual(single.centre, [Float](repeating: 0, count: 6), "one model: nothing common to remove")
  }

  /// A shared offset that is not a model's own (all images of every model shifted alike) costs the
  /// plain cosine its separation and the gallery's context gets it back: the case of real generators,
  /// whose embeddings share a component the synthetic ones lack.
  func testGalleryContextRemovesAComponentEveryModelShares() throws {
    let (e0, labels) = Self.stretched(classes: 6, per: 10, dim: 8, seed: 31)
    let offset: [Float] = [0, 0, 0, 0, 0, 0, 0, 30]
    let e = e0.map { zip($0, offset).map { $0 + $1 } }
    let enrolled = EnrolledGallery.enrolledIndices(labels: labels, nShot: 5)
    let fit = try XCTUnwrap(try GalleryAdaptation.fit(enrolled.map { e[$0] }, labels: enrolled.map { labels[$0] }))
    let run = try EvaluationRun.evaluate(
      method: "t", models: (0..<6).map { "m\($0)" }, embeddings: e, labels: labels, nShot: 5, pairs: 400, seed: 3,
      adaptation: true)
    let g = try XCTUnwrap(run.galleryVerification)
    XCTAssertEqual(g.all.pairs, 400)
    XCTAssertGreaterThan(g.all.auc, run.result.verification.auc + 0.05)
    // Its scores are the fit's verification scores of the protocol's pairs; query pairs are a subset.
    let drawn = VerificationPairs.draw(labels: labels, count: 400, seed: 3)
    let scores = drawn.map { fit.verificationScore(e[$0.a], e[$0.b]) }
    XCTAssertEqual(g.all.auc, ROCCurve(scores: scores, same: drawn.map(\.same)).auc, accuracy: 1e-12)
    let isEnrolled = Set(enrolled)
    XCTAssertEqual(g.queryPairs, drawn.filter { !isEnrolled.contains($0.a) && !isEnrolled.contains($0.b) }.count)
    XCTAssertNotNil(g.aucQueryPairs)
    XCTAssertNil(
      try EvaluationRun.evaluate(
        method: "t", models: (0..<6).map { "m\($0)" }, embeddings: e, labels: labels, nShot: 5, pairs: 400, seed: 3
      ).galleryVerification, "no gallery context without the adaptation")
  }
}
