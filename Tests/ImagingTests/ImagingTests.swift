import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// Decoding against fixtures written by `scripts/reference/make_image_fixtures.py` (Pillow, PyTorch).
final class DecodeTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
  static let expected = try! Safetensors.read(
    fixtures.appendingPathComponent("images/expected.safetensors"), requireVersion: false)

  func decode(_ name: String) throws -> Image {
    try ImageDecoder().decode(contentsOf: Self.fixtures.appendingPathComponent("images/\(name)"))
  }

  func expected(_ name: String) -> [Float] { Self.expected.tensors[name]!.array }

  func testAThinStripIsCutBeforeScalingUp() {
    // 1 × 60000: scaled whole to a 64 px short side it would be 64 × 3 840 000 pixels.
    let strip = Image(width: 1, height: 60000, pixels: (0..<(3 * 60000)).map { Float($0 % 60000) / 60000 })
    let square = strip.centerSquare(64)
    XCTAssertEqual([square.width, square.height], [64, 64])
    // Its centre is the strip's centre, about half-way up the ramp.
    XCTAssertEqual(square.pixels[32 * 64 + 32], 0.5, accuracy: 0.001)
  }

  func testByteConversionIsNaNSafeRoundedAndClamped() {
    XCTAssertEqual(unitToByte(.nan), 0)
    XCTAssertEqual(unitToByte(-.infinity), 0)
    XCTAssertEqual(unitToByte(.infinity), 255)
    XCTAssertEqual(unitToByte(-0.2), 0)
    XCTAssertEqual(unitToByte(1.7), 255)
    XCTAssertEqual(unitToByte(0.5), 128)  // 127.5 rounds half away from zero
    XCTAssertEqual(unitToByte(100.0 / 255), 100)
    let image = Image(width: 1, height: 1, pixels: [.nan, 2, 0.2])
    XCTAssertEqual(image.interleavedBytes(), [0, 255, 51])
    XCTAssertEqual(image.quantized().pixels, [0, 1, 51 / 255])
  }

  func testPNGAndLosslessWebPAreExact() throws {
    for name in ["rgb.png", "gray.png", "palette.png", "rgba.png", "rgb-lossless.webp"] {
      let image = try decode(name)
      XCTAssertEqual(image.width, 16, name)
      XCTAssertEqual(image.height, 12, name)
      XCTAssertEqual(image.pixels, expected(name), name)
    }
  }

  func testSixteenBitPNGWithinEightBitQuantisation() throws {
    let image = try decode("rgb16.png")
    let worst = zip(image.pixels, expected("rgb16.png")).map { abs($0 - $1) }.max()!
    XCTAssertLessThanOrEqual(worst, 0.5 / 255 + 1e-6)
  }

  func testJPEGWithinThePSNRItsQualityImplies() throws {
    let reference = try decode("rgb.png")
    // The PSNR Pillow's libjpeg decoder reaches on the same file, to within 0.2 dB.
    for name in ["rgb-q75.jpg", "rgb-q95.jpg"] {
      let psnr = try decode(name).psnr(against: reference)
      XCTAssertEqual(psnr, Double(expected("psnr.\(name)")[0]), accuracy: 0.2, name)
    }
  }

  func testEXIFOrientationIsApplied() throws {
    let upright = try decode("rgb.png")
    for tag in [2, 3, 6, 8] {
      let image = try decode("exif-\(tag).jpg")
      XCTAssertEqual(image.width, 16, "orientation \(tag)")
      XCTAssertEqual(image.height, 12, "orientation \(tag)")
      XCTAssertGreaterThan(image.psnr(against: upright), 35, "orientation \(tag)")
    }
  }

  func testEncodersRoundTrip() throws {
    let image = try decode("rgb.png")
    XCTAssertEqual(try ImageDecoder().decode(try ImageEncoder.png(image), name: "png").pixels, image.pixels)
    let q90 = try image.jpegRecompressed(quality: 90)
    XCTAssertGreaterThan(q90.psnr(against: image), 30)
    XCTAssertLessThan(q90.psnr(against: image), .infinity)
  }

  func testResizeMatchesReferences() throws {
    let src = Image(width: 13, height: 9, pixels: expected("resize.src"))
    for (h, w) in [(5, 7), (20, 17)] {
      for filter in ResizeFilter.allCases {
        let out = src.resized(width: w, height: h, filter: filter)
        let ref = expected("resize.\(filter.rawValue).\(h)x\(w)")
        let worst = zip(out.pixels, ref).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 2e-5, "\(filter) to \(w)×\(h)")
      }
    }
  }

  func testCropAndTensorRoundTrip() throws {
    let image = try decode("rgb.png")
    let crop = image.cropped(x: 3, y: 2, width: 5, height: 4)
    XCTAssertEqual(crop[1, 0, 0], image[1, 2, 3])
    XCTAssertEqual(crop[2, 3, 4], image[2, 5, 7])
    XCTAssertEqual(Image(Image.batch([image, image]), index: 1), image)
  }
}

/// The bad-input corpus: typed errors naming the file, a folder processed for its good files.
final class BadInputTests: XCTestCase {
  let bad = DecodeTests.fixtures.appendingPathComponent("bad")

  func error(_ name: String) -> ImageError? {
    do {
      _ = try ImageDecoder().decode(contentsOf: bad.appendingPathComponent(name))
      return nil
    } catch { return error as? ImageError }
  }

  func testEachBadFileGivesATypedErrorNamingIt() {
    let cases: [(String, (ImageError) -> Bool)] = [
      ("truncated.jpg", { if case .corrupt(_, "JPEG", _) = $0 { return true } else { return false } }),
      ("truncated.png", { if case .corrupt(_, "PNG", _) = $0 { return true } else { return false } }),
      ("empty.jpg", { if case .empty = $0 { return true } else { return false } }),
      ("huge-60000x60000.png", { if case .tooLarge(_, 60000, 60000, _) = $0 { return true } else { return false } }),
      ("cmyk.jpg", { if case .unsupported = $0 { return true } else { return false } }),
      ("text.png", { if case .unknownFormat = $0 { return true } else { return false } }),
      ("directory.jpg", { if case .isDirectory = $0 { return true } else { return false } }),
    ]
    for (name, matches) in cases {
      guard let e = error(name) else {
        XCTFail("\(name) should not decode")
        continue
      }
      XCTAssert(matches(e), "\(name): unexpected \(e)")
      XCTAssert(e.description.contains(name), "\(name): the message must name the file: \(e)")
    }
  }

  func testAFolderOfBadFilesYieldsItsGoodFiles() throws {
    let files = try ImageFiles.list(bad)
    XCTAssertEqual(files.count, 8)
    let batch = ImageDecoder().decodeAll(files)
    XCTAssertEqual(batch.images.map { $0.url.lastPathComponent }, ["good.png"])
    XCTAssertEqual(batch.failures.count, 7)
  }

  func testBombGuardLimitIsConfigurable() throws {
    let url = DecodeTests.fixtures.appendingPathComponent("images/rgb.png")
    XCTAssertThrowsError(try ImageDecoder(maxPixels: 100).decode(contentsOf: url)) {
      XCTAssertEqual($0 as? ImageError, .tooLarge(path: url.path, width: 16, height: 12, limit: 100))
    }
  }
}

/// Folder walking.
final class ImageFilesTests: XCTestCase {
  func testFolderPerModelLayoutIsSortedAndCaseInsensitive() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-folders-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let fm = FileManager.default
    for (model, files) in [
      ("b-model", ["2.PNG", "1.jpeg", ".hidden.png", "notes.txt"]), ("a-model", ["x.WebP"]),
      ("empty", ["readme.md"]),
    ] {
      let dir = root.appendingPathComponent(model)
      try fm.createDirectory(at: dir, withIntermediateDirectories: true)
      for f in files { fm.createFile(atPath: dir.appendingPathComponent(f).path, contents: Data([0])) }
    }
    let models = try ImageFiles.models(in: root)
    XCTAssertEqual(models.map(\.name), ["a-model", "b-model"])
    XCTAssertEqual(models[1].files.map(\.lastPathComponent), ["1.jpeg", "2.PNG"])
  }
  func testFilesAreRecognisedBySignatureWhateverTheirNameAndLinkCyclesEndTheWalk() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-sniff-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let fm = FileManager.default
    let sub = root.appendingPathComponent("sub")
    try fm.createDirectory(at: sub, withIntermediateDirectories: true)
    let png = try ImageEncoder.png(Image(width: 2, height: 2, pixels: [Float](repeating: 0.5, count: 12)))
    try png.write(to: root.appendingPathComponent("no-extension"))
    try png.write(to: root.appendingPathComponent("wrong.txt"))
    try Data([0xFF, 0xD8, 0xFF, 0xE0]).write(to: sub.appendingPathComponent("jpeg-head"))
    try Data("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8).write(to: sub.appendingPathComponent("webp-head"))
    try Data("just text".utf8).write(to: root.appendingPathComponent("notes"))
    try fm.createSymbolicLink(atPath: sub.appendingPathComponent("up").path, withDestinationPath: "..")
    try fm.createSymbolicLink(atPath: root.appendingPathComponent("self").path, withDestinationPath: "self")
    let names = try ImageFiles.list(root, recursive: true).map { $0.path.dropFirst(root.path.count + 1) }
    XCTAssertEqual(names, ["no-extension", "self", "sub/jpeg-head", "sub/webp-head", "wrong.txt"])
    let decoded = ImageDecoder().decodeAll(try ImageFiles.list(root))
    XCTAssertEqual(decoded.images.map(\.url.lastPathComponent), ["no-extension", "wrong.txt"])
    let loop = root.appendingPathComponent("self")
    XCTAssertTrue(ImageFiles.unopenableReason(loop)?.contains("symbolic link") ?? false)
    let failure = ImageDecoder().decodeAll([loop]).failures.first?.error.description ?? ""
    XCTAssertTrue(failure.contains("leads nowhere"), failure)
    XCTAssertNil(ImageFiles.unopenableReason(root.appendingPathComponent("notes")))
  }
}
