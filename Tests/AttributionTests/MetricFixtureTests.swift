import Attribution
import Evaluation
import Foundation
import XCTest

/// Metrics against scikit-learn (`Tests/Fixtures/reference/metrics.json`, written by
/// scripts/reference/make_metric_fixtures.py).
final class MetricFixtureTests: XCTestCase {
  struct Fixture: Decodable {
    struct IdentificationCase: Decodable {
      var truth: [Int]
      var predicted: [Int]
      var accuracy: Double
      var macroF1: Double
    }
    struct VerificationCase: Decodable {
      var scores: [Double]
      var same: [Bool]
      var auc: Double
      var eer: Double
      var tarAtFar1Pct: Double
      var bestAccuracy: Double
      var rocFpr: [Double]
      var rocTpr: [Double]
      var rocThresholds: [Double?]
    }
    struct ClusterCase: Decodable {
      var embeddings: [[Double]]
      var labels: [Int]
      var silhouette: Double
      var daviesBouldin: Double
    }
    struct Digest: Decodable {
      var text: String
      var hex: String
    }
    var identification: [IdentificationCase]
    var verification: [VerificationCase]
    var clusters: [ClusterCase]
    var sha256: [Digest]
  }

  static let fixture: Fixture = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/reference/metrics.json")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try! decoder.decode(Fixture.self, from: Data(contentsOf: url))
  }()

  func testAccuracyAndMacroF1MatchScikitLearn() {
    for c in Self.fixture.identification {
      XCTAssertEqual(Metrics.accuracy(truth: c.truth, predicted: c.predicted), c.accuracy, accuracy: 1e-12)
      XCTAssertEqual(Metrics.macroF1(truth: c.truth, predicted: c.predicted), c.macroF1, accuracy: 1e-12)
    }
  }

  func testROCCurveMatchesScikitLearn() {
    for c in Self.fixture.verification {
      let roc = ROCCurve(scores: c.scores.map(Float.init), same: c.same)
      XCTAssertEqual(roc.falsePositiveRates.count, c.rocFpr.count)
      for (a, b) in zip(roc.falsePositiveRates, c.rocFpr) { XCTAssertEqual(a, b, accuracy: 1e-12) }
      for (a, b) in zip(roc.truePositiveRates, c.rocTpr) { XCTAssertEqual(a, b, accuracy: 1e-12) }
      for (a, b) in zip(roc.thresholds, c.rocThresholds) {
        if let b { XCTAssertEqual(Double(a), b) } else { XCTAssertEqual(a, .infinity) }
      }
    }
  }

  func testAUCEERAndTARMatchScikitLearn() {
    for c in Self.fixture.verification {
      let scores = c.scores.map(Float.init)
      let roc = ROCCurve(scores: scores, same: c.same)
      XCTAssertEqual(roc.auc, c.auc, accuracy: 1e-9)
      XCTAssertEqual(roc.equalErrorRate.rate, c.eer, accuracy: 1e-9)
      XCTAssertEqual(roc.truePositiveRate(atFalsePositiveRate: 0.01).rate, c.tarAtFar1Pct, accuracy: 1e-12)
      XCTAssertEqual(
        Metrics.bestThresholdAccuracy(scores: scores, same: c.same).accuracy, c.bestAccuracy, accuracy: 1e-12)
    }
  }

  func testEERThresholdSeparatesAtTheEqualErrorPoint() {
    for c in Self.fixture.verification {
      let scores = c.scores.map(Float.init)
      let (rate, t) = ROCCurve(scores: scores, same: c.same).equalErrorRate
      // At the threshold, false accepts and false rejects straddle the EER within one ROC step.
      let negatives = Double(c.same.filter { !$0 }.count)
      let positives = Double(c.same.count) - negatives
      let far = Double(zip(scores, c.same).filter { $0.0 >= t && !$0.1 }.count) / negatives
      let frr = Double(zip(scores, c.same).filter { $0.0 < t && $0.1 }.count) / positives
      XCTAssertLessThanOrEqual(min(far, frr), rate + 1e-9)
      XCTAssertGreaterThanOrEqual(max(far, frr), rate - 1e-9)
    }
  }

  func testSilhouetteAndDaviesBouldinMatchScikitLearn() {
    for c in Self.fixture.clusters {
      let e = c.embeddings.map { $0.map(Float.init) }
      XCTAssertEqual(ClusterMetrics.silhouette(e, labels: c.labels), c.silhouette, accuracy: 1e-9)
      XCTAssertEqual(ClusterMetrics.daviesBouldin(e, labels: c.labels), c.daviesBouldin, accuracy: 1e-9)
    }
  }

  func testSHA256MatchesHashlib() {
    for d in Self.fixture.sha256 { XCTAssertEqual(SHA256.hex(Array(d.text.utf8)), d.hex, d.text) }
    // Streaming in odd pieces gives the same digest as one update.
    let text = Array(Self.fixture.sha256.last!.text.utf8)
    var h = SHA256()
    var i = 0
    while i < text.count {
      let n = min(37, text.count - i)
      h.update(text[i..<(i + n)])
      i += n
    }
    XCTAssertEqual(h.finalize(), Self.fixture.sha256.last!.hex)
  }
}
