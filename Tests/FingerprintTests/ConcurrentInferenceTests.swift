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
}
