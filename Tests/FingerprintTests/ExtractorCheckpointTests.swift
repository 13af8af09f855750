import Fingerprint
import Foundation
import FuzzEntryPoints
import NN
import XCTest

/// Extractor checkpoints whose metadata is damaged (Tests/Fixtures/fuzz/safetensors/extractor-*):
/// refused on load, before the network is sized from them, both as the `safetensors` fuzz target loads
/// them (`Exercise.safetensors`) and as the commands do (`Extractor.load(from:)`).
final class ExtractorCheckpointTests: XCTestCase {
  static let folder = RegressionInputs.folder("safetensors")

  func testEveryDamagedCheckpointIsATypedErrorNamingTheFile() throws {
    let inputs = try RegressionInputs.files("safetensors").filter { $0.lastPathComponent.hasPrefix("extractor-") }
    XCTAssertGreaterThanOrEqual(inputs.count, 10)
    for url in inputs {
      let name = url.lastPathComponent
      let outcome = Exercise.safetensors(try Data(contentsOf: url), name: url.path)
      guard case .refused(SafetensorsError.badCheckpoint(let path, "extractor", _)) = outcome else {
        XCTFail("\(name): expected a bad extractor checkpoint, got \(outcome)")
        continue
      }
      XCTAssertEqual(path, url.path)
    }
  }

  func testMessagesSayWhichSettingIsWrong() {
    let expected = [
      "width-billion": "width '1000000000'", "residual-unknown": "residual 'denoiser'",
      "spectrum-unknown": "spectrum 'phase'", "std-0": "std", "too-few-weights": "too few",
      "no-classes": "class list",
    ]
    for (name, fragment) in expected {
      let url = Self.folder.appendingPathComponent("extractor-\(name).safetensors")
      XCTAssertThrowsError(try Extractor.load(from: url)) {
        XCTAssert("\($0)".contains(fragment), "\(name): \($0)")
      }
    }
  }

  func testSavedSettingsPassTheLoadChecks() {
    XCTAssertNil(SpectralInput().problem)
    var input = SpectralInput()
    input.residual = "denoiser"
    XCTAssertNotNil(input.problem)
  }
}
