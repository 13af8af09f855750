import Attribution
import Evaluation
import Fingerprint
import Imaging
import Tensor
import XCTest

/// The protocol's scoring, the pair drawing that must equal Fingerprint's, top-k search and baselines.
final class ProtocolTests: XCTestCase {
  /// `classes` clusters of `per` noisy copies of a random direction.
  static func clustered(classes: Int, per: Int, dim: Int, noise: Float, seed: UInt64) -> ([[Float]], [Int]) {
    var rng = RNG(seed: seed)
    var embeddings: [[Float]] = []
    var labels: [Int] = []
    for c in 0..<classes {
      let centre = (0..<dim).map { _ in rng.normal() }
      for _ in 0..<per {
        embeddings.append(centre.map { $0 + noise * rng.normal() })
        labels.append(c)
      }
    }
    return (embeddings, labels)
  }

  /// The pairs are half same-model, never an image with itself, seeded, and their AUC is the
  /// Mann–Whitney statistic of their scores (ties counted half).
  func testPairsAreSeededAndHalfSameModel() {
    let (e, labels) = Self.clustered(classes: 6, per: 9, dim: 12, noise: 1.5, seed: 3)
    for seed: UInt64 in [0, 7] {
      let pairs = VerificationPairs.draw(labels: labels, count: 1000, seed: seed)
      XCTAssertTrue(
        zip(pairs, VerificationPairs.draw(labels: labels, count: 1000, seed: seed)).allSatisfy {
          $0.a == $1.a && $0.b == $1.b
        })
      let scores = VerificationPairs.scores(pairs, normalised: e.map(Vectors.normalised))
      let same = pairs.map(\.same)
      var wins = 0.0
      for (i, s) in scores.enumerated() where same[i] {
        for (j, t) in scores.enumerated() where !same[j] { wins += s > t ? 1 : s == t ? 0.5 : 0 }
      }
      let verification = EvaluationProtocol.verification(e, labels: labels, pairs: 1000, seed: seed)
      XCTAssertEqual(verification.scores, scores)
      XCTAssertEqual(verification.result.auc, wins / (500 * 500), accuracy: 1e-12)
      XCTAssertEqual(same.filter { $0 }.count, 500)
      for p in pairs {
        XCTAssertNotEqual(p.a, p.b)
        XCTAssertEqual(labels[p.a] == labels[p.b], p.same)
      }
    }
  }

  /// An extractor with broken weights gives NaN embeddings; scoring them must finish (a NaN equals
  /// nothing, so a tie loop that waits for equal scores never advanced) and rank NaN lowest.
  func testNaNScoresFinishAndRankLowest() {
    let nan = Float.nan
    let roc = ROCCurve(scores: [nan, 0.9, nan, 0.2, 0.5], same: [false, true, false, false, true])
    XCTAssertEqual(roc.thresholds.count, 6, "+inf, 0.9, 0.5, 0.2 and each NaN alone")
    XCTAssertEqual(roc.auc, 1, accuracy: 1e-12)
    let best = Metrics.bestThresholdAccuracy(scores: [nan, 0.9, nan, 0.2], same: [false, true, false, true])
    XCTAssertEqual(best.accuracy, 1)
    var (e, labels) = Self.clustered(classes: 3, per: 4, dim: 5, noise: 0.1, seed: 6)
    e[0] = [Float](repeating: nan, count: 5)
    let r = EvaluationProtocol.evaluate(e, labels: labels, nShot: 2, pairs: 100, seed: 0).result
    XCTAssertTrue(r.verification.auc.isFinite)
  }

  func testEvaluationOfSeparableClustersIsPerfect() {
    let (e, labels) = Self.clustered(classes: 5, per: 14, dim: 32, noise: 0.05, seed: 1)
    let r = EvaluationProtocol.evaluate(e, labels: labels, nShot: 10, pairs: 2000, seed: 0).result
    XCTAssertEqual(r.identification.accuracy, 1)
    XCTAssertEqual(r.identification.macroF1, 1)
    XCTAssertEqual(r.identification.queries, 5 * 4)
    XCTAssertEqual(r.verification.auc, 1)
    XCTAssertEqual(r.verification.eer, 0)
    XCTAssertEqual(r.verification.tarAtFar1pct, 1)
    XCTAssertGreaterThan(r.clusters.silhouette, 0.9)
    XCTAssertLessThan(r.clusters.daviesBouldin, 0.2)
    let details = IdentificationDetails(e, labels: labels, nShot: 10)
    XCTAssertEqual(r.identification.accuracy, details.accuracy)
  }

  func testEvaluationJSONHasTheDocumentedKeys() throws {
    let (e, labels) = Self.clustered(classes: 3, per: 12, dim: 8, noise: 1, seed: 2)
    let r = EvaluationProtocol.evaluate(e, labels: labels, nShot: 10, pairs: 200, seed: 0).result
    let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: [String: Any]]
    for key in ["accuracy", "macro_f1"] { XCTAssertNotNil(object["identification"]?[key] as? Double, key) }
    for key in ["accuracy", "auc", "eer", "tar_at_far_1pct"] {
      XCTAssertNotNil(object["verification"]?[key] as? Double, key)
    }
    for key in ["silhouette", "davies_bouldin"] { XCTAssertNotNil(object["clusters"]?[key] as? Double, key) }
  }

  /// Scores of an index big enough to be split into bands over the threads equal the one-thread ones.
  func testScoresDoNotDependOnThreadCount() {
    var rng = RNG(seed: 4)
    let dim = 64
    let n = 40_000
    let index = FingerprintIndex(
      names: (0..<n).map { "m\($0)" }, matrix: (0..<(n * dim)).map { _ in rng.normal() }, dimension: dim)
    let q = (0..<dim).map { _ in rng.normal() }
    let one = index.scores(q)
    Threads.set(2)
    defer { Threads.set(1) }
    XCTAssertEqual(index.scores(q), one)
  }

  func testTopKEqualsAFullSort() {
    var rng = RNG(seed: 9)
    let dim = 16
    let n = 3000
    let names = (0..<n).map { "m\($0)" }
    let index = FingerprintIndex(names: names, matrix: (0..<(n * dim)).map { _ in rng.normal() }, dimension: dim)
    for _ in 0..<5 {
      let q = (0..<dim).map { _ in rng.normal() }
      let all = index.scores(q)
      let sorted = all.indices.sorted { all[$0] > all[$1] || (all[$0] == all[$1] && $0 < $1) }
      let top = index.top(7, for: q)
      XCTAssertEqual(top.map(\.index), Array(sorted.prefix(7)))
      for t in top {
        XCTAssertEqual(
          t.score, Vectors.cosine(q, Array(index.matrix[(t.index * dim)..<((t.index + 1) * dim)])), accuracy: 1e-5)
      }
    }
    XCTAssertEqual(index.top(10, for: [Float](repeating: 1, count: dim)).count, 10)
    var small = FingerprintIndex(dimension: 2)
    small.append(name: "a", fingerprint: [1, 0])
    XCTAssertEqual(small.top(5, for: [0, 1]).map(\.index), [0])
  }

  func testBaselinesEmbedAnySizeAsOneFixedLength() {
    var rng = RNG(seed: 4)
    for (w, h) in [(64, 64), (127, 128), (129, 300), (300, 17), (256, 256)] {
      let image = Image(width: w, height: h, pixels: (0..<(3 * w * h)).map { _ in rng.uniform() })
      for method in Baseline.allCases {
        let e = method.embed(image, size: 32)
        XCTAssertEqual(e.count, 32 * 32, "\(method) \(w)×\(h)")
        XCTAssertTrue(e.allSatisfy(\.isFinite))
      }
      let residual = Baseline.marra.embed(image, size: 32)
      XCTAssertEqual(Double(residual.reduce(0, +)), 0, accuracy: 1e-3, "NCC needs zero-mean residuals")
    }
  }

  func testMarraResidualIgnoresSmoothContent() {
    // A flat image plus a fixed pattern and the same pattern on a gradient: the residuals correlate highly.
    var rng = RNG(seed: 5)
    let s = 48
    let pattern = (0..<(s * s)).map { _ in 0.02 * rng.normal() }
    func image(_ ramp: Float) -> Image {
      var p = [Float](repeating: 0, count: 3 * s * s)
      for c in 0..<3 {
        for y in 0..<s {
          for x in 0..<s { p[(c * s + y) * s + x] = 0.3 + ramp * Float(x) / Float(s) + pattern[y * s + x] }
        }
      }
      return Image(width: s, height: s, pixels: p)
    }
    let a = Baseline.marra.embed(image(0), size: s)
    let b = Baseline.marra.embed(image(0.5), size: s)
    XCTAssertGreaterThan(Vectors.cosine(a, b), 0.95)
  }
}
