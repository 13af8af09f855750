import Foundation
import FuzzEntryPoints
import Synthesis
import XCTest

/// Pool files that trapped their readers (Tests/Fixtures/fuzz/pool: manifests `*.json`, tile caches
/// `*.bin`), fed through `Exercise.pool` as the `pool` fuzz target feeds its inputs, and opened as a pool
/// would open them.
final class PoolFuzzRegressionTests: XCTestCase {
  static let folder = RegressionInputs.folder("pool")
  var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("pool-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDown() { try? FileManager.default.removeItem(at: root) }

  func inputs() throws -> [URL] {
    let inputs = try RegressionInputs.files("pool")
    XCTAssertFalse(inputs.isEmpty, "no regression inputs in \(Self.folder.path)")
    return inputs
  }

  func testEveryInputReadsOrThrowsTheReadersTypedError() throws {
    for url in try inputs() {
      let outcome = Exercise.pool(try Data(contentsOf: url), name: url.path)
      if let bug = outcome.manifest.bug { XCTFail("\(url.lastPathComponent) as a manifest: \(bug)") }
      if let bug = outcome.tileCache.bug { XCTFail("\(url.lastPathComponent) as a tile cache: \(bug)") }
    }
  }

  /// Each committed manifest is damaged: opening a pool with it must say so, naming manifest.json.
  func testDamagedManifestsAreRefusedWhenThePoolIsOpened() throws {
    for url in try inputs() where url.pathExtension == "json" {
      try FileManager.default.removeItem(at: root)
      try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: url, to: root.appendingPathComponent("manifest.json"))
      XCTAssertThrowsError(try PoolStore(existing: root), url.lastPathComponent) { error in
        guard case .corruptManifest(let path, _)? = error as? PoolError else {
          return XCTFail("\(url.lastPathComponent): \(error)")
        }
        XCTAssert(path.hasSuffix("manifest.json"))
      }
    }
    try FileManager.default.copyItem(
      at: Self.folder.appendingPathComponent("duplicate-key.json"), to: root.appendingPathComponent("dup.json"))
    XCTAssertThrowsError(try PoolManifest.decode(Data(contentsOf: root.appendingPathComponent("dup.json")), name: "m"))
    {
      XCTAssert("\($0)".contains("000000/seed-0 is listed twice"), "\($0)")
    }
  }

  func testTileCachesWhoseSizesOverflowAreCorruption() throws {
    for url in try inputs() where url.pathExtension == "bin" {
      XCTAssertThrowsError(try TileSet.read(url), url.lastPathComponent) { error in
        guard case .corrupted? = error as? TileSetError else { return XCTFail("\(url.lastPathComponent): \(error)") }
      }
    }
  }

  func testTileCacheOfAnotherSizeIsRefusedWhenASizeIsRequired() throws {
    let url = root.appendingPathComponent("tiles-8.bin")
    try TileSet(size: 4, bytes: [UInt8](repeating: 7, count: 2 * 3 * 16)).write(to: url)
    XCTAssertEqual(try TileSet.read(url, size: 4).count, 2)
    XCTAssertThrowsError(try TileSet.read(url, size: 8)) { XCTAssert("\($0)".contains("4 px tiles"), "\($0)") }
  }
}
