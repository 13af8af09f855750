import Foundation
import XCTest

/// `modelprint demo` end to end on a tiny untrained extractor and three tiny model folders, run from a
/// folder that holds neither, so that only the paths given on the command line are used.
final class DemoSmokeTests: XCTestCase {
  func testDemoRunsTheWholeLoopAndSummarises() throws {
    let dir = try Scratch()
    let extractor = dir.url.appendingPathComponent("ex.safetensors")
    try Fixtures.writeExtractor(to: extractor)
    let images = dir.url.appendingPathComponent("demo")
    try Fixtures.writeModelFolders(in: images, models: 3, perModel: 4)
    let work = try Scratch()
    let kept = dir.path("kept.sqlite")
    let r = try CLI.run(
      ["demo", "--extractor", extractor.path, "--images", images.path, "--enroll", "2", "--gallery", kept],
      in: work.url)
    XCTAssertFalse(r.signalled, r.output)
    XCTAssertEqual(r.status, 0, r.output)
    let out = r.stdout
    XCTAssertTrue(out.contains("Gallery \(kept): enrolling 2 models, 2 images each"), out)
    XCTAssertTrue(out.contains("Calibrated on the enrolled images"), out)
    XCTAssertTrue(out.contains("model2 is not in the gallery"), out)
    // 2 queries of each enrolled model, all 4 images of the outsider.
    let rows = out.split(separator: "\n").filter { $0.hasPrefix("model") && ($0.hasSuffix("✓") || $0.hasSuffix("✗")) }
    XCTAssertEqual(rows.count, 2 * 2 + 4, out)
    XCTAssertTrue(out.contains("Closed set (top-1 among 2 models, enrolled generators): "), out)
    XCTAssertTrue(out.contains(" / 4 = "), "4 closed-set queries:\n\(out)")
    XCTAssertTrue(out.contains("answers right"), out)
    XCTAssertTrue(out.contains("of 4 images of model2 called unknown"), out)
    XCTAssertTrue(out.contains("s for 12 images"), out)
    // The gallery it was told to keep is there and lists the two enrolled models.
    let list = try CLI.run(["gallery", "list", "--gallery", kept])
    XCTAssertEqual(list.status, 0, list.output)
    XCTAssertTrue(list.stdout.contains("model0") && list.stdout.contains("model1"), list.output)
    XCTAssertFalse(list.stdout.contains("model2"), list.output)
  }
}
