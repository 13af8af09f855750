import Foundation
import Imaging
import XCTest

/// Inputs that trapped the image readers (Tests/Fixtures/fuzz/image, from scripts/fuzz.sh and
/// scripts/fuzz_regressions.py), fed through what the `image` fuzz target runs.
final class ImageFuzzRegressionTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz/image")

  func inputs() throws -> [URL] {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).sorted()
    XCTAssertFalse(names.isEmpty, "no regression inputs in \(Self.folder.path)")
    return names.map { Self.folder.appendingPathComponent($0) }
  }

  func testEveryInputDecodesOrThrowsAnImageErrorNamingTheFile() throws {
    for url in try inputs() {
      let data = try Data(contentsOf: url)
      _ = ExifOrientation.read(jpeg: data)
      do {
        let image = try ImageDecoder().decode(data, name: url.path)
        XCTAssertEqual(image.pixels.count, 3 * image.width * image.height, url.lastPathComponent)
      } catch let e as ImageError {
        XCTAssert(e.description.hasPrefix(url.path), "\(url.lastPathComponent): \(e)")
      } catch {
        XCTFail("\(url.lastPathComponent): untyped error \(error)")
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
