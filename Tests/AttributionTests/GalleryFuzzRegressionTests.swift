import Attribution
import Foundation
import FuzzEntryPoints
import XCTest

/// Gallery files that trapped the reader (Tests/Fixtures/fuzz/gallery), each opened and read by
/// `Exercise.gallery`, as the `gallery` fuzz target and the commands read a gallery.
final class GalleryFuzzRegressionTests: XCTestCase {
  static let folder = RegressionInputs.folder("gallery")
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testEveryDamagedGalleryIsAGalleryErrorNamingTheFile() throws {
    let inputs = try RegressionInputs.files("gallery")
    XCTAssertGreaterThanOrEqual(inputs.count, 5)
    for input in inputs {
      let name = input.lastPathComponent
      // A copy: opening a gallery may switch it to WAL and write beside it.
      let url = dir.appendingPathComponent(name)
      try FileManager.default.copyItem(at: input, to: url)
      let outcome = Exercise.gallery(at: url)
      guard case .refused(let e as GalleryError) = outcome else {
        XCTFail("\(name): \(outcome.bug ?? "accepted, but every file here is damaged")")
        continue
      }
      XCTAssert(e.description.hasPrefix(url.path), "\(name): \(e)")
    }
  }

  func testDamagedEmbeddingIsReportedAsSuch() throws {
    let url = dir.appendingPathComponent("g.sqlite")
    try FileManager.default.copyItem(at: Self.folder.appendingPathComponent("damaged-embedding.sqlite"), to: url)
    let gallery = try Gallery(at: url, extractor: nil)
    XCTAssertThrowsError(try gallery.embeddings()) {
      XCTAssert("\($0)".contains("embedding of alpha/a.png is damaged (5 bytes, 16 expected)"), "\($0)")
    }
    XCTAssertThrowsError(try gallery.recomputeFingerprints())
  }
}
