import Attribution
import Foundation
import XCTest

/// Gallery files that trapped the reader (Tests/Fixtures/fuzz/gallery), each opened and read as the
/// `gallery` fuzz target and the commands read a gallery.
final class GalleryFuzzRegressionTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz/gallery")
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// Everything the commands read, in the fuzz target's order.
  func exercise(_ url: URL) throws {
    let gallery = try Gallery(at: url, extractor: nil)
    _ = try gallery.models()
    _ = try gallery.calibration()
    let index = try gallery.index()
    let embeddings = try gallery.embeddings()
    if index.count > 0 { _ = try gallery.identify([Float](repeating: 1, count: index.dimension), top: 3) }
    if let e = embeddings.first { _ = try gallery.verify(e.embedding, e.embedding) }
    try gallery.recomputeFingerprints()
    _ = try gallery.index()
  }

  func testEveryDamagedGalleryIsAGalleryErrorNamingTheFile() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).sorted()
    XCTAssertGreaterThanOrEqual(names.count, 5)
    for name in names {
      // A copy: opening a gallery may switch it to WAL and write beside it.
      let url = dir.appendingPathComponent(name)
      try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(name), to: url)
      XCTAssertThrowsError(try exercise(url), name) { error in
        guard let e = error as? GalleryError else { return XCTFail("\(name): untyped error \(error)") }
        XCTAssert(e.description.hasPrefix(url.path), "\(name): \(e)")
      }
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
