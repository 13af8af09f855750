import Foundation
import FuzzEntryPoints
import NN
import XCTest

/// Inputs that trapped the safetensors reader (Tests/Fixtures/fuzz/safetensors, from scripts/fuzz.sh
/// and scripts/fuzz_regressions.py), fed through `Exercise.safetensors` as the `safetensors` fuzz target
/// feeds its inputs.
final class SafetensorsFuzzRegressionTests: XCTestCase {
  static let folder = RegressionInputs.folder("safetensors")

  func decode(_ name: String) throws -> Safetensors.File {
    try Safetensors.read(Self.folder.appendingPathComponent(name), requireVersion: false)
  }

  func testEveryInputReadsOrThrowsASafetensorsErrorNamingTheFile() throws {
    let inputs = try RegressionInputs.files("safetensors")
    XCTAssertFalse(inputs.isEmpty, "no regression inputs in \(Self.folder.path)")
    for url in inputs {
      let name = url.lastPathComponent
      let outcome = Exercise.safetensors(try Data(contentsOf: url), name: url.path)
      if let bug = outcome.bug { XCTFail("\(name): \(bug)") }
      if case .refused(let e) = outcome { XCTAssert("\(e)".contains(url.path), "\(name): \(e)") }
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
