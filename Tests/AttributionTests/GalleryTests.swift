import Attribution
import Foundation
import Tensor
import XCTest

final class GalleryTests: XCTestCase {
  var folder: URL!
  let extractor = ExtractorIdentity(
    sha256: String(repeating: "ab", count: 32), settings: "{\"size\":64}", path: "/x.st")

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  func url(_ name: String = "g.sqlite") -> URL { folder.appendingPathComponent(name) }

  func testEnrollListRemoveRoundTrip() throws {
    let g = try Gallery(at: url(), extractor: extractor)
    try g.enroll(model: "alpha", notes: "first", images: [("a1.png", [1, 0, 0]), ("a2.png", [2, 0.2, 0])])
    try g.enroll(model: "beta", images: [("b1.png", [0, 1, 0])])
    try g.enroll(model: "alpha", images: [("a3.png", [1, 0, 0.1]), ("a1.png", [1, 0, 0])])  // a1 again: replaced
    let reopened = try Gallery(at: url(), extractor: nil)
    let models = try reopened.models()
    XCTAssertEqual(models.map(\.name), ["alpha", "beta"])
    XCTAssertEqual(models.map(\.images), [3, 1])
    XCTAssertEqual(models[0].notes, "first")
    XCTAssertEqual(reopened.extractor, extractor)
    XCTAssertEqual(try reopened.embeddings().count, 4)
    let removed = try reopened.remove(model: "alpha")
    XCTAssertEqual(removed.images, 3)
    XCTAssertEqual(try reopened.models().map(\.name), ["beta"])
    XCTAssertEqual(try reopened.embeddings().map(\.path), ["b1.png"], "images of a removed model go with it")
    XCTAssertThrowsError(try reopened.remove(model: "alpha")) { e in
      XCTAssertEqual(e as? GalleryError, .unknownModel(path: url().path, name: "alpha", known: ["beta"]))
    }
  }

  func testFingerprintIsTheRenormalisedMeanOfNormalisedEmbeddings() throws {
    let g = try Gallery(at: url(), extractor: extractor)
    try g.setMetric(.synthetic)
    try g.enroll(model: "m", images: [("1", [3, 0]), ("2", [0, 0.5])])
    let index = try g.index()
    XCTAssertEqual(index.matrix[0], Float(0.5).squareRoot(), accuracy: 1e-6)
    XCTAssertEqual(index.matrix[1], Float(0.5).squareRoot(), accuracy: 1e-6)
  }

  func testADifferentExtractorIsRefused() throws {
    _ = try Gallery(at: url(), extractor: extractor)
    var other = extractor
    other.sha256 = String(repeating: "cd", count: 32)
    XCTAssertThrowsError(try Gallery(at: url(), extractor: other)) { e in
      guard case .extractorMismatch(_, let stored, let given, _)? = e as? GalleryError else {
        return XCTFail("\(e)")
      }
      XCTAssertEqual(stored, self.extractor.sha256)
      XCTAssertEqual(given, other.sha256)
      XCTAssertTrue("\(e)".contains("--extractor"), "the message says what to do")
    }
  }

  func testIdentifyRanksByCosineAndSaysUnknownBelowTheThreshold() throws {
    let g = try Gallery(at: url(), extractor: extractor)
    try g.enroll(model: "x", images: [("x", [1, 0, 0])])
    try g.enroll(model: "xy", images: [("xy", [1, 1, 0])])
    try g.enroll(model: "y", images: [("y", [0, 1, 0])])
    try g.enroll(model: "z", images: [("z", [0, 0, 1])])
    let r = try g.identify([1, 0.2, 0], top: 3)
    XCTAssertEqual(r.candidates.map(\.model), ["x", "xy", "y"])
    XCTAssertEqual(r.candidates[0].score, 1 / Float(1.04).squareRoot(), accuracy: 1e-6)
    XCTAssertNil(r.threshold)
    XCTAssertFalse(r.isUnknown, "no open-set decision before calibration")

    let calibration = try Calibration(
      embeddings: [[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0.1, 0.99, 0]], labels: [0, 0, 1, 1], pairs: 50,
      source: "test")
    try g.store(calibration)
    let reopened = try Gallery(at: url(), extractor: extractor)
    XCTAssertEqual(try reopened.calibration(), calibration)
    let threshold = Float(calibration.openSet.eerThreshold)
    let near = try reopened.identify([1, 0.01, 0], top: 1)
    XCTAssertEqual(near.threshold, threshold)
    XCTAssertFalse(near.isUnknown)
    let far = try reopened.identify([-1, -1, -1], top: 1)
    XCTAssertTrue(far.isUnknown)
    XCTAssertEqual(try reopened.verify([1, 0, 0], [1, 0.01, 0]).same, true)
    XCTAssertEqual(try reopened.verify([1, 0, 0], [0, 0, 1]).same, false)
    XCTAssertEqual(try reopened.verify([1, 0, 0], [0, 0, 1], threshold: -0.5).same, true)
  }

  func testCalibrationOnSyntheticScoresSeparatesGenuineFromImpostor() throws {
    let (e, labels) = ProtocolTests.clustered(classes: 6, per: 8, dim: 16, noise: 0.3, seed: 11)
    let g = try Gallery(at: url(), extractor: extractor)
    for c in 0..<6 {
      try g.enroll(
        model: "model-\(c)", images: labels.indices.filter { labels[$0] == c }.map { ("img-\($0)", e[$0]) })
    }
    let c = try g.calibrate(pairs: 2000, seed: 0)
    XCTAssertEqual(c.models, 6)
    XCTAssertEqual(c.images, 48)
    XCTAssertEqual(c.openSet.genuine, 48)
    XCTAssertEqual(c.openSet.impostor, 48)
    XCTAssertEqual(c.verification.genuine, 1000)
    XCTAssertLessThan(c.verification.eer, 0.05)
    XCTAssertLessThan(c.openSet.eer, 0.05)
    XCTAssertGreaterThan(c.verification.eerThreshold, 0.2)
    XCTAssertEqual(try g.calibration(), c)
    // Identification of an enrolled image is known; of a fresh direction, unknown.
    XCTAssertFalse(try g.identify(e[0]).isUnknown)
    var rng = RNG(seed: 99)
    XCTAssertTrue(try g.identify((0..<16).map { _ in rng.normal() }).isUnknown)
  }

  func testCalibrationNeedsTwoModels() throws {
    let g = try Gallery(at: url(), extractor: extractor)
    try g.enroll(model: "only", images: [("1", [1, 0]), ("2", [0, 1])])
    XCTAssertThrowsError(try g.calibrate()) { e in
      guard case .cannotCalibrate? = e as? GalleryError else { return XCTFail("\(e)") }
    }
  }

  func testAFailedEnrollmentStoresNothing() throws {
    let g = try Gallery(at: url(), extractor: extractor)
    try g.enroll(model: "a", images: [("1", [1, 0, 0])])
    XCTAssertThrowsError(try g.enroll(model: "b", images: [("2", [1, 0, 0]), ("3", [1, 0])])) { e in
      XCTAssertEqual(e as? GalleryError, .dimensionMismatch(path: url().path, gallery: 3, given: 2))
    }
    XCTAssertEqual(try g.models().map(\.name), ["a"])
    XCTAssertEqual(try g.embeddings().count, 1)
    XCTAssertThrowsError(try g.enroll(model: "  ", images: [("4", [1, 0, 0])]))
    XCTAssertThrowsError(try g.enroll(model: "c", images: []))
  }

  func testForeignAndDamagedFilesGiveTypedErrors() throws {
    let garbage = url("garbage.sqlite")
    try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: garbage)
    XCTAssertThrowsError(try Gallery(at: garbage, extractor: extractor)) { e in
      guard case .notAGallery? = e as? GalleryError else { return XCTFail("\(e)") }
    }
    // Another program's SQLite database.
    let foreign = url("foreign.sqlite")
    let g = try Gallery(at: foreign, extractor: extractor)
    try g.enroll(model: "a", images: [("1", [1])])
    _ = g
    let other = url("other.sqlite")
    try Self.sqlite(other, "CREATE TABLE notes (text TEXT)")
    XCTAssertThrowsError(try Gallery(at: other, extractor: extractor)) { e in
      guard case .notAGallery(_, let reason)? = e as? GalleryError else { return XCTFail("\(e)") }
      XCTAssertTrue(reason.contains("notes"))
    }
    // A truncated gallery.
    let data = try Data(contentsOf: foreign)
    let truncated = url("truncated.sqlite")
    try data.prefix(100).write(to: truncated)
    XCTAssertThrowsError(try Gallery(at: truncated, extractor: extractor).models()) { e in
      XCTAssertNotNil(e as? GalleryError, "\(e)")
    }
    XCTAssertThrowsError(try Gallery(at: url("none.sqlite"), extractor: nil)) { e in
      XCTAssertEqual(e as? GalleryError, .missing(path: url("none.sqlite").path))
    }
  }

  func testConcurrentWritersLoseNothing() throws {
    // Separate Gallery objects have separate SQLite connections, as separate processes do.
    _ = try Gallery(at: url(), extractor: extractor)
    let writers = 3
    let perWriter = 15
    let failures = UnsafeMutablePointer<Int>.allocate(capacity: writers)
    failures.initialize(repeating: 0, count: writers)
    defer { failures.deallocate() }
    DispatchQueue.concurrentPerform(iterations: writers + 1) { w in
      do {
        let g = try Gallery(at: url(), extractor: extractor)
        if w == writers {
          for _ in 0..<20 { _ = try g.models() }
          return
        }
        for i in 0..<perWriter {
          try g.enroll(model: "w\(w)-\(i % 5)", images: [("img-\(i)", [Float(w), Float(i), 1])])
        }
      } catch {
        if w < writers { failures[w] += 1 }
        XCTFail("writer \(w): \(error)")
      }
    }
    let g = try Gallery(at: url(), extractor: nil)
    XCTAssertEqual(try g.models().count, writers * 5)
    XCTAssertEqual(try g.embeddings().count, writers * perWriter)
  }

  static func sqlite(_ url: URL, _ sql: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
      "python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
      url.path, sql,
    ]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw XCTSkip("python3 with sqlite3 is needed to write a foreign database") }
  }
}
