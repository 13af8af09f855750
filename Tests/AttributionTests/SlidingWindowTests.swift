import Fingerprint
import Imaging
import NN
import Tensor
import XCTest

/// The extractor's 3 × 3 sliding windows on images smaller, equal to and far larger than a window.
final class SlidingWindowTests: XCTestCase {
  func testEverySizeGivesAFiniteEmbedding() {
    var rng = RNG(seed: 0)
    let ex = Extractor(
      network: ResNet(depth: 18, width: 4, classes: 2, projection: 4, rng: &rng), input: SpectralInput(),
      classes: ["a", "b"])
    for (w, h) in [(64, 64), (127, 127), (128, 128), (129, 129), (300, 17), (4000, 3000)] {
      let image = Image(
        width: w, height: h, pixels: (0..<(3 * w * h)).map { Float(($0 * 7919) % 251) / 250 })
      let windows = ex.input.windows(image, grid: 3)
      XCTAssertEqual(windows.count, 9, "\(w)×\(h)")
      XCTAssertTrue(windows.allSatisfy { $0.width == ex.input.size && $0.height == ex.input.size }, "\(w)×\(h)")
      let e = ex.embed(images: [image], grid: 3)
      XCTAssertEqual(e.count, 1, "\(w)×\(h)")
      XCTAssertEqual(e[0].count, ex.network.embeddingWidth, "\(w)×\(h)")
      XCTAssertTrue(e[0].allSatisfy(\.isFinite), "\(w)×\(h): \(e[0])")
    }
  }
}
