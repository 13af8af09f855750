import Foundation
import FuzzEntryPoints
import Imaging
import XCTest

/// Inputs that trapped the image readers (Tests/Fixtures/fuzz/image, from scripts/fuzz.sh and
/// scripts/fuzz_regressions.py), fed through `Exercise.image`, as the `image` fuzz target feeds its inputs.
final class ImageFuzzRegressionTests: XCTestCase {
  static let folder = RegressionInputs.folder("image")

  func testEveryInputDecodesOrThrowsAnImageErrorNamingTheFile() throws {
    let inputs = try RegressionInputs.files("image")
    XCTAssertFalse(inputs.isEmpty, "no regression inputs in \(Self.folder.path)")
    for url in inputs {
      let outcome = Exercise.image(try Data(contentsOf: url), name: url.path)
      if let bug = outcome.bug { XCTFail("\(url.lastPathComponent): \(bug)") }
      if case .refused(let e) = outcome {
        XCTAssert("\(e)".hasPrefix(url.path), "\(url.lastPathComponent): \(e)")
      }
    }
  }

  /// The guard must act on the header: these files hold a few hundred bytes of pixel data.
  func testHeadersClaimingHugeImagesAreRefusedAsTooLarge() throws {
    for name in ["jpeg-60000x60000.jpg", "png-60000x60000.png", "webp-16384x16384.webp"] {
      let url = Self.folder.appendingPathComponent(name)
      XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: url), name) { error in
        guard case .tooLarge(_, let w, let h, _)? = error as? ImageError else {
          return XCTFail("\(name): expected tooLarge, got \(error)")
        }
        XCTAssertGreaterThan(w * h, 100_000_000, name)
      }
    }
  }

  func testZeroSidedHeadersAreRefused() throws {
    for name in ["jpeg-0x8.jpg", "png-0x8.png"] {
      XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: Self.folder.appendingPathComponent(name)), name) {
        XCTAssertNotNil($0 as? ImageError, "\(name): \($0)")
      }
    }
  }

  func testExifSegmentShorterThanItsTagReadsAsUpright() throws {
    for name in ["exif-length-2.jpg", "exif-length-7.jpg"] {
      XCTAssertEqual(ExifOrientation.read(jpeg: try Data(contentsOf: Self.folder.appendingPathComponent(name))), .up)
    }
  }
}
