import Foundation
import NN
import XCTest

/// Inputs that trapped the safetensors reader (Tests/Fixtures/fuzz/safetensors, from scripts/fuzz.sh
/// and scripts/fuzz_regressions.py), fed through what the `safetensors` fuzz target runs.
final class SafetensorsFuzzRegressionTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz/safetensors")

  func decode(_ name: String) throws -> Safetensors.File {
    try Safetensors.read(Self.folder.appendingPathComponent(name), requireVersion: false)
  }

  func testEveryInputReadsOrThrowsASafetensorsErrorNamingTheFile() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).sorted()
    XCTAssertFalse(names.isEmpty)
    for name in names {
      do { _ = try decode(name) } catch let e as SafetensorsError {
        XCTAssert(e.description.contains(Self.folder.appendingPathComponent(name).path), "\(name): \(e)")
      } catch {
        XCTFail("\(name): untyped error \(error)")
      }
    }
  }

  func testDamagedLengthsOffsetsAndShapesAreCorruptionNotTraps() {
    for name in [
      "huge-header-length.safetensors", "offsets-overflow.safetensors", "shape-overflow.safetensors",
      "overlap.safetensors", "not-json.safetensors",
    ] {
      XCTAssertThrowsError(try decode(name), name) { error in
        guard case .corrupted? = error as? SafetensorsError else { return XCTFail("\(name): \(error)") }
      }
    }
    XCTAssertThrowsError(try decode("header-length-past-end.safetensors")) { error in
      guard case .truncated(_, let expected, _)? = error as? SafetensorsError else { return XCTFail("\(error)") }
      XCTAssertEqual(expected, (1 << 20) + 8)
    }
  }
}
