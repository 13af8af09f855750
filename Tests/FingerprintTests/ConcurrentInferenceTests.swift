import Dispatch
import Fingerprint
import Imaging
import NN
import Tensor
import XCTest

/// One extractor serving several threads at once (a server's requests) gives each the embeddings a
/// lone caller gets.
final class ConcurrentInferenceTests: XCTestCase {
  override func tearDown() {
    Threads.set(1)
    super.tearDown()
  }

  /// A tiny extractor, seeded, in eval mode as `Extractor.load` leaves it.
  static func extractor() -> Extractor {
    var rng = RNG(seed: 5)
    let ex = Extractor(
      network: ResNet(depth: 18, width: 4, classes: 3, projection: 8, rng: &rng), input: SpectralInput(),
      classes: ["a", "b", "c"])
    ex.network.eval()
    return ex
  }

  func testConcurrentEmbeddingEqualsSequential() {
    Threads.set(2)
    var rng = RNG(seed: 11)
    // Two images of 3 × 3 windows per request: 18 windows take the dense small-map path too.
    let requests = (0..<4).map { _ in
      (0..<2).map { _ in Image(width: 80, height: 72, pixels: (0..<(3 * 80 * 72)).map { _ in rng.uniform() }) }
    }
    let lone = Self.extractor()
    let expected = requests.map { lone.embed(images: $0, grid: 3) }
    // A fresh extractor, so that its inference caches (folded batch norms, unrolled weights) are filled
    // by the concurrent calls themselves.
    let shared = Self.extractor()
    let results = Locked<[[[Float]]?]>(Array(repeating: nil, count: requests.count * 3))
    DispatchQueue.concurrentPerform(iterations: requests.count * 3) { k in
      let e = shared.embed(images: requests[k % requests.count], grid: 3)
      results.withLock { $0[k] = e }
    }
    for (k, e) in results.current.enumerated() {
      XCTAssertEqual(e, expected[k % requests.count], "request \(k % requests.count), call \(k)")
    }
  }

  /// Lanes of windows side by side give the windows' embeddings of one pass, in order, with 2, 3 (more
  /// lanes than threads) and 40 (more lanes than windows) lanes. A different split may only reorder
  /// float sums inside the kernels: each output sums at most 3·3·32 = 288 products per layer over 18
  /// layers, so values agree to about 18 · 288 · 2⁻²⁴ ≈ 3e-4 of the largest magnitude.
  func testLanesGiveTheEmbeddingsOfOnePass() {
    Threads.set(2)
    var rng = RNG(seed: 13)
    let images = (0..<3).map { _ in
      Image(width: 70, height: 66, pixels: (0..<(3 * 70 * 66)).map { _ in rng.uniform() })
    }
    let ex = Self.extractor()
    let windows = images.flatMap { ex.input.windows($0, grid: 3) }
    let one = ex.embed(windows: windows, lanes: 1)
    XCTAssertEqual(one.count, windows.count)
    let scale = one.flatMap { $0 }.map(abs).max() ?? 0
    for lanes in [2, 3, 40] {
      let split = ex.embed(windows: windows, lanes: lanes)
      XCTAssertEqual(split.count, one.count, "\(lanes) lanes")
      for (w, (a, b)) in zip(split, one).enumerated() {
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 3e-4 * scale, "\(lanes) lanes, window \(w)") }
      }
    }
    XCTAssertEqual(ex.embed(windows: [], lanes: 2).count, 0)
  }
}
