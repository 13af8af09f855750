import Attribution
import Evaluation
import XCTest

/// Open-set AUROC and the 1:N details, on embeddings whose scores are known by construction.
final class OpenSetTests: XCTestCase {
  /// A unit vector in the x–z plane whose cosine with (1, 0, 0) is `c`, scaled by `scale`.
  static func along(_ c: Float, scale: Float = 1) -> [Float] { [c * scale, 0, (1 - c * c).squareRoot() * scale] }

  func testAUROCCountsKnownAboveUnknownPairs() {
    // Model 0 enrolls (1, 0, 0), model 1 enrolls (0, 1, 0) (--nshot 1). Best scores: known queries 0.9,
    // 0.5 (model 0) and 0.8 (model 1); unknown 0.7 and 0.1. Known above unknown in 5 of 6 pairs.
    let embeddings: [[Float]] = [[1, 0, 0], Self.along(0.9), Self.along(0.5, scale: 4), [0, 1, 0], [0, 0.8, 0.6]]
    let labels = [0, 0, 0, 1, 1]
    let unknown = [Self.along(0.7, scale: 3), Self.along(0.1)]
    let (r, known, other) = OpenSetEvaluation.evaluate(embeddings, labels: labels, unknown: unknown, nShot: 1)
    XCTAssertEqual(r.auroc, 5.0 / 6.0, accuracy: 1e-12)
    XCTAssertEqual(r.galleryModels, 2)
    XCTAssertEqual(r.knownQueries, 3)
    XCTAssertEqual(r.unknownQueries, 2)
    for (a, b) in zip(known, [0.9, 0.5, 0.8] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    for (a, b) in zip(other, [0.7, 0.1] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
  }

  func testSeparatedUnknownsGiveAUROCOneAndTiesCountHalf() {
    let embeddings: [[Float]] = [[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0.1, 1, 0]]
    let labels = [0, 0, 1, 1]
    let far = OpenSetEvaluation.evaluate(embeddings, labels: labels, unknown: [[0, 0, 1], [0, 0.2, 1]], nShot: 1)
    XCTAssertEqual(far.result.auroc, 1)
    // Both known queries score cos((1, 0, 0), (1, 0.1, 0)); an unknown image equal to one ties with both
    // (half a pair each), one scoring between them and the top is beaten by both.
    let tied = OpenSetEvaluation.evaluate(embeddings, labels: labels, unknown: [[1, 0.1, 0], [1, 0.5, 0]], nShot: 1)
    XCTAssertEqual(tied.result.auroc, 0.75, accuracy: 1e-12)
  }

  func testOpenSetJSONKeys() throws {
    let r = OpenSetResult(auroc: 0.5, galleryModels: 2, knownQueries: 3, unknownQueries: 4)
    let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
    XCTAssertEqual(Set(object.keys), ["auroc", "gallery_models", "known_queries", "unknown_queries"])
  }

  func testIdentificationDetailsAgreeWithTheProtocol() {
    let (e, labels) = ProtocolTests.clustered(classes: 4, per: 13, dim: 10, noise: 1.2, seed: 5)
    let details = IdentificationDetails(e, labels: labels, nShot: 10)
    let r = EvaluationProtocol.evaluate(e, labels: labels, nShot: 10, pairs: 500, seed: 0).result
    XCTAssertEqual(details.accuracy, r.identification.accuracy)
    XCTAssertEqual(details.confusion.flatMap { $0 }.reduce(0, +), r.identification.queries)
    for (i, row) in details.confusion.enumerated() {
      XCTAssertEqual(details.perModelAccuracy[i]!, Double(row[i]) / 3, accuracy: 1e-12)
    }
  }

  func testLineagePairsTheNearestFingerprints() {
    // Models 0 and 1 point almost the same way, model 2 elsewhere but nearer to 1 than to 0.
    let embeddings: [[Float]] = [[1, 0, 0], [1, 0, 0], [1, 0.1, 0], [1, 0.1, 0], [0, 1, 0.2], [0, 1, 0.2]]
    let details = IdentificationDetails(embeddings, labels: [0, 0, 1, 1, 2, 2], nShot: 1)
    XCTAssertEqual(details.lineage.map { $0!.nearest }, [1, 0, 1])
    XCTAssertEqual(details.lineage[0]!.score, Vectors.cosine([1, 0, 0], [1, 0.1, 0]), accuracy: 1e-6)
    XCTAssertNil(IdentificationDetails([[1, 0], [0, 1]], labels: [0, 0], nShot: 1).lineage[0])
  }
}
