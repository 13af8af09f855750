import Imaging
import Tensor
import XCTest

final class TileSamplerTests: XCTestCase {
  func testFlatRegionsAreSkippedAndTilesHaveTheRequestedSize() {
    var rng = RNG(seed: 1)
    let flat = Image(width: 64, height: 64, pixels: [Float](repeating: 0.5, count: 3 * 64 * 64))
    let noise = Image(width: 64, height: 64, pixels: (0..<(3 * 64 * 64)).map { _ in rng.uniform() })
    let sampler = TileSampler(size: 16, scaleRange: 1...2, scalesPerPhoto: 2)
    XCTAssertTrue(sampler.tiles(from: [flat], count: 10, rng: &rng).isEmpty, "a flat photo has no texture")
    // Tiles are spread evenly over photos and scales (2 × 2 here, so 2 per scale for 6): the flat
    // photo's share is not made up elsewhere.
    let tiles = sampler.tiles(from: [noise, flat], count: 6, rng: &rng)
    XCTAssertEqual(tiles.count, 4)
    XCTAssert(tiles.allSatisfy { $0.width == 16 && $0.height == 16 })
  }
}

final class SquareCropTests: XCTestCase {
  func testCenterSquareKeepsPixelsAndScalesUpSmallImages() {
    var rng = RNG(seed: 2)
    let img = Image(width: 10, height: 7, pixels: (0..<210).map { _ in rng.uniform() })
    let crop = img.centerSquare(5)
    XCTAssertEqual(crop, img.cropped(x: 2, y: 1, width: 5, height: 5), "large enough: no resampling")
    let up = img.centerSquare(14)
    XCTAssertEqual([up.width, up.height], [14, 14])
  }

  func testFittedSquareScalesTheShorterSide() {
    var rng = RNG(seed: 3)
    let img = Image(width: 40, height: 20, pixels: (0..<2400).map { _ in rng.uniform() })
    let f = img.fittedSquare(10)
    XCTAssertEqual([f.width, f.height], [10, 10])
    // Area downscaling by 2 then the centre: pixel (0, 0) averages input rows 0–1, columns 10–11.
    let expected = (img[0, 0, 10] + img[0, 0, 11] + img[0, 1, 10] + img[0, 1, 11]) / 4
    XCTAssertEqual(f[0, 0, 0], expected, accuracy: 1e-5)
    XCTAssertEqual(img.fittedSquare(20), img.cropped(x: 10, y: 0, width: 20, height: 20))
  }
}
