import Foundation
import Tensor
import XCTest

/// Autodiff semantics as PyTorch's: accumulation into leaves, zeroing, no-grad mode, views.
final class AutodiffTests: XCTestCase {
  func testGradientsAccumulateUntilZeroed() {
    let x = Tensor([1, 2, 3], shape: [3])
    x.requiresGrad = true
    (x * x).sum().backward()
    (x * x).sum().backward()
    XCTAssertEqual(x.grad?.array, [4, 8, 12], "two backward passes accumulate 2x twice")
    zeroGrad([x])
    XCTAssertNil(x.grad)
    x.scaled(3).sum().backward()
    XCTAssertEqual(x.grad?.array, [3, 3, 3])
  }

  func testSharedInputsSumTheirGradients() {
    let x = Tensor([0.5, -1], shape: [2])
    x.requiresGrad = true
    let y = x.tanh()
    (y + y * x).sum().backward()
    let expected = x.array.map { v -> Float in
      let t = Float(Foundation.tanh(Double(v)))
      return (1 - t * t) * (1 + v) + t
    }
    for (a, b) in zip(x.grad!.array, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
  }

  func testLeavesNeverShareAGradientTensor() {
    let a = Tensor([1, 2], shape: [2])
    let b = Tensor([3, 4], shape: [2])
    a.requiresGrad = true
    b.requiresGrad = true
    (a + b).sum().backward()
    XCTAssertFalse(a.grad === b.grad, "add hands one gradient to both inputs; each leaf needs its own")
    a.grad!.pointer[0] = 100
    XCTAssertEqual(b.grad!.array, [1, 1])
  }

  func testNoGradRecordsNothing() {
    let x = Tensor([1, 2], shape: [2])
    x.requiresGrad = true
    let y = withNoGrad { x.scaled(2) }
    XCTAssertFalse(y.requiresGrad)
    XCTAssertTrue(isGradEnabled)
    let z = x.detached().scaled(2)
    XCTAssertFalse(z.requiresGrad)
  }

  func testBatchViewsShareMemoryInEveryLayout() {
    var rng = RNG(seed: 2)
    let x = Tensor.normal([4, 16, 3, 5], rng: &rng)
    for layout: Layout in [.plain, .nhwc, .nChw8c, .nChw16c] {
      let t = x.toLayout(layout, differentiable: false)
      let view = t.batch(1..<3)
      XCTAssertEqual(view.shape, [2, 16, 3, 5])
      XCTAssertEqual(view.array, Array(x.array[(1 * 240)..<(3 * 240)]), "\(layout)")
      view.pointer[0] = 42
      XCTAssertEqual(t.storage.pointer[t.offset + 240], 42, "\(layout): a view writes through")
    }
  }
}
