import Attribution
import Imaging
import XCTest

/// `--perturb` specs and what the perturbations do to an image.
final class PerturbationTests: XCTestCase {
  func testParsesValidSpecsAndPrintsThemBack() throws {
    XCTAssertEqual(try Perturbation(parsing: "jpeg:90"), .jpeg(quality: 90))
    XCTAssertEqual(try Perturbation(parsing: "JPEG:1"), .jpeg(quality: 1))
    XCTAssertEqual(try Perturbation(parsing: "crop:0.5"), .crop(ratio: 0.5))
    XCTAssertEqual(try Perturbation(parsing: "crop:1"), .crop(ratio: 1))
    for p in Perturbation.Kind.allCases.flatMap(\.sweep) {
      XCTAssertEqual(try Perturbation(parsing: p.description), p)
    }
    XCTAssertEqual(Perturbation.Kind.jpeg.sweep.map(\.value), [100, 95, 90, 80, 70, 60, 50])
    XCTAssertEqual(Perturbation.Kind.crop.sweep.map(\.value), [1, 0.9, 0.8, 0.7, 0.6, 0.5])
  }

  func testBadSpecsThrowTypedErrorsThatSayWhatToWrite() {
    let cases: [(String, PerturbationError)] = [
      ("jpeg", .malformed(spec: "jpeg")),
      ("", .malformed(spec: "")),
      ("blur:3", .unknownKind(spec: "blur:3", kind: "blur")),
      ("jpeg:0", .badValue(spec: "jpeg:0", expected: "a JPEG quality, an integer from 1 to 100")),
      ("jpeg:101", .badValue(spec: "jpeg:101", expected: "a JPEG quality, an integer from 1 to 100")),
      ("jpeg:90.5", .badValue(spec: "jpeg:90.5", expected: "a JPEG quality, an integer from 1 to 100")),
      ("crop:0", .badValue(spec: "crop:0", expected: "a share of the area, a number above 0 and at most 1")),
      ("crop:1.5", .badValue(spec: "crop:1.5", expected: "a share of the area, a number above 0 and at most 1")),
      ("crop:", .badValue(spec: "crop:", expected: "a share of the area, a number above 0 and at most 1")),
    ]
    for (spec, expected) in cases {
      XCTAssertThrowsError(try Perturbation(parsing: spec), spec) { error in
        XCTAssertEqual(error as? PerturbationError, expected, spec)
      }
    }
    XCTAssertTrue(PerturbationError.malformed(spec: "x").description.contains("jpeg:90"))
    XCTAssertTrue(PerturbationError.unknownKind(spec: "blur:3", kind: "blur").description.contains("crop:R"))
  }

  static func pattern(width: Int, height: Int) -> Image {
    Image(width: width, height: height, pixels: (0..<(3 * width * height)).map { Float(($0 * 37) % 101) / 100 })
  }

  func testCropKeepsTheImageSize() throws {
    for (w, h) in [(256, 256), (300, 17), (17, 300), (1, 1), (129, 64)] {
      for r in [1.0, 0.9, 0.5, 0.01] {
        let out = try Perturbation.crop(ratio: r).apply(Self.pattern(width: w, height: h))
        XCTAssertEqual([out.width, out.height], [w, h], "\(w)×\(h) crop:\(r)")
      }
    }
    let image = Self.pattern(width: 40, height: 30)
    XCTAssertEqual(try Perturbation.crop(ratio: 1).apply(image), image)
  }

  func testCropRegionKeepsTheShareOfTheAreaInTheCentre() {
    let r = Perturbation.cropRegion(width: 256, height: 256, ratio: 0.64)
    XCTAssertEqual([r.x, r.y, r.width, r.height], [25, 25, 205, 205])
    let wide = Perturbation.cropRegion(width: 400, height: 100, ratio: 0.25)
    XCTAssertEqual([wide.x, wide.y, wide.width, wide.height], [100, 25, 200, 50])
    // An 8 × 8 image whose centre 4 × 4 is white: a quarter of the area is that square, scaled up.
    var pixels = [Float](repeating: 0, count: 3 * 64)
    for c in 0..<3 { for y in 2..<6 { for x in 2..<6 { pixels[(c * 8 + y) * 8 + x] = 1 } } }
    let out = try! Perturbation.crop(ratio: 0.25).apply(Image(width: 8, height: 8, pixels: pixels))
    XCTAssertEqual(out.pixels.min()!, 1, accuracy: 1e-6)
  }

  func testJPEGKeepsTheSizeAndChangesThePixelsALittle() throws {
    let image = Self.pattern(width: 64, height: 48)
    let out = try Perturbation.jpeg(quality: 90).apply(image)
    XCTAssertEqual([out.width, out.height], [64, 48])
    XCTAssertNotEqual(out, image)
    let low = try Perturbation.jpeg(quality: 10).apply(image)
    XCTAssertGreaterThan(out.psnr(against: image), low.psnr(against: image))
  }
}
