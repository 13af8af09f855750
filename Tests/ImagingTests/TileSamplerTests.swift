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
