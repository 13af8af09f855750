import Fingerprint
import Foundation
import NN
import XCTest

/// Extractor checkpoints whose metadata is damaged (Tests/Fixtures/fuzz/safetensors/extractor-*):
/// refused on load, before the network is sized from them.
final class ExtractorCheckpointTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz/safetensors")

  func testEveryDamagedCheckpointIsATypedErrorNamingTheFile() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter {
      $0.hasPrefix("extractor-")
    }
    XCTAssertGreaterThanOrEqual(names.count, 10)
    for name in names.sorted() {
      let url = Self.folder.appendingPathComponent(name)
      XCTAssertThrowsError(try Extractor.load(from: url), name) { error in
        guard case .badCheckpoint(let path, "extractor", _)? = error as? SafetensorsError else {
          return XCTFail("\(name): \(error)")
        }
        XCTAssertEqual(path, url.path)
      }
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
