import Foundation
import XCTest

/// `explain` writes its figure, chart and bands; `gallery export` and `gallery import` move a gallery
/// between files, refused across extractors.
final class ExplainAndPackTests: XCTestCase {
  static func gallery(in dir: Scratch, extractor: String) throws -> String {
    let images = dir.url.appendingPathComponent("images")
    try Fixtures.writeModelFolders(in: images, models: 3, perModel: 3)
    let gallery = dir.path("g.sqlite")
    for m in 0..<3 {
      let r = try CLI.run(
        ["gallery", "enroll", "--gallery", gallery, "--model", "model\(m)", "--extractor", extractor]
          + (0..<2).map { images.appendingPathComponent(String(format: "model\(m)/img%02d.png", $0)).path })
      XCTAssertEqual(r.status, 0, r.output)
    }
    return gallery
  }

  func testExplainWritesFigureChartAndBands() throws {
    let dir = try Scratch()
    let extractor = dir.path("ex.safetensors")
    try Fixtures.writeExtractor(to: URL(fileURLWithPath: extractor))
    let gallery = try Self.gallery(in: dir, extractor: extractor)
    let out = dir.path("why")
    let r = try CLI.run(
      ["explain", dir.path("images/model1/img02.png"), "--gallery", gallery, "--out", out, "--bands", "4"])
    XCTAssertEqual(r.status, 0, r.output)
    let png = try Data(contentsOf: URL(fileURLWithPath: out + "/explanation.png"))
    XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    XCTAssertTrue(try String(contentsOfFile: out + "/profiles.svg", encoding: .utf8).hasPrefix("<svg"))
    let json = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/bands.json")))
        as? [String: Any])
    XCTAssertEqual((json["bands"] as? [[String: Any]])?.count, 4)
    XCTAssertNotNil(json["identification"] as? [String: Any])
    // A model the gallery lacks is refused with a message, exit 1.
    let bad = try CLI.run(
      ["explain", dir.path("images/model1/img02.png"), "--gallery", gallery, "--out", out, "--model", "nobody"])
    XCTAssertEqual(bad.status, 1, bad.output)
    XCTAssertTrue(bad.stderr.contains("nobody"), bad.output)
  }

  func testExportImportRoundTripAndMismatch() throws {
    let dir = try Scratch()
    let extractor = dir.path("ex.safetensors")
    try Fixtures.writeExtractor(to: URL(fileURLWithPath: extractor))
    let gallery = try Self.gallery(in: dir, extractor: extractor)
    let pack = dir.path("pack.json")
    var r = try CLI.run(["gallery", "export", "--gallery", gallery, "--out", pack])
    XCTAssertEqual(r.status, 0, r.output)
    let copy = dir.path("copy.sqlite")
    r = try CLI.run(["gallery", "import", "--gallery", copy, "--extractor", extractor, pack])
    XCTAssertEqual(r.status, 0, r.output)
    let again = dir.path("again.json")
    r = try CLI.run(["gallery", "export", "--gallery", copy, "--out", again])
    XCTAssertEqual(r.status, 0, r.output)
    // The same models, notes, embeddings and spectra, byte for byte (the files differ only in nothing).
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pack)), try Data(contentsOf: URL(fileURLWithPath: again)))

    let other = dir.path("other.safetensors")
    try Fixtures.writeExtractor(to: URL(fileURLWithPath: other), classes: 4)
    r = try CLI.run(["gallery", "import", "--gallery", dir.path("other.sqlite"), "--extractor", other, pack])
    XCTAssertEqual(r.status, 1, r.output)
    XCTAssertTrue(r.stderr.contains("extractor"), r.output)
    try dir.write("junk.json", Array("{\"format\": 1}".utf8))
    r = try CLI.run(["gallery", "import", "--gallery", copy, dir.path("junk.json")])
    XCTAssertEqual(r.status, 1, r.output)
    XCTAssertTrue(r.stderr.contains("not a fingerprint pack"), r.output)
  }
}
