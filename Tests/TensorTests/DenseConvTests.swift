import XCTest

@testable import Tensor

/// Inference convolutions on tiny inputs run as one matrix product (``DenseConvPolicy``); they must
/// equal the plain reference and oneDNN's direct kernels in every layout, with every fused extra.
final class DenseConvTests: XCTestCase {
  // Small random batches keep the tests fast; the batch threshold is a speed policy, not a numeric one.
  override func setUp() { DenseConvPolicy.minimumBatch = 1 }

  override func tearDown() {
    DenseConvPolicy.enabled = true
    DenseConvPolicy.minimumBatch = 16
  }

  struct Case: CustomStringConvertible {
    var n, ci, co, k, h, w, stride, padding: Int
    var layout: Layout
    var bias: Bool
    var adding: Bool
    var postOp: PostOp?
    var description: String {
      "n\(n) ci\(ci) co\(co) k\(k) \(h)×\(w) s\(stride) p\(padding) \(layout) bias \(bias) adding \(adding) \(postOp?.rawValue ?? "-")"
    }
  }

  /// Reference output of a case in plain NCHW: convolution, + addend, then the activation.
  func reference(_ c: Case, _ x: Tensor, _ wt: Tensor, _ b: Tensor?, _ a: Tensor?) -> [Float] {
    var y = Reference.conv2d(
      x.toLayout(.plain, differentiable: false).array, n: c.n, ci: c.ci, h: c.h, w: c.w, weight: wt.array, co: c.co,
      k: c.k, bias: b?.array, stride: c.stride, padding: c.padding)
    if let a { y = zip(y, a.array).map { $0 + $1 } }
    switch c.postOp {
    case .relu: y = y.map { max($0, 0) }
    case .sigmoid: y = y.map { 1 / (1 + Foundation.exp(-$0)) }
    case .tanh: y = y.map { Foundation.tanh($0) }
    case nil: break
    }
    return y
  }

  func testDenseConvolutionMatchesReferenceAndDirectKernelsOnRandomShapes() {
    var rng = RNG(seed: 21)
    var dense = 0
    for _ in 0..<60 {
      let k = [1, 3, 3][rng.int(3)]
      let stride = 1 + rng.int(2)
      let padding = rng.int(k / 2 + 1)
      let h = max(1 + rng.int(3), k - 2 * padding)
      let w = max(1 + rng.int(3), k - 2 * padding)
      let layout = [Layout.plain, .nChw8c, .nChw16c, .nhwc][rng.int(4)]
      let ci = [8, 16, 32][rng.int(3)]
      let co = [8, 16, 24][rng.int(3)]
      if layout == .nChw16c && ci % 16 != 0 { continue }
      let c = Case(
        n: 1 + rng.int(5), ci: ci, co: co, k: k, h: h, w: w, stride: stride, padding: padding, layout: layout,
        bias: rng.int(2) == 0, adding: rng.int(2) == 0, postOp: [nil, .relu, .sigmoid, .tanh][rng.int(4)])
      let x = Tensor.normal([c.n, c.ci, c.h, c.w], rng: &rng).toLayout(layout, differentiable: false)
      let wt = Tensor.normal([c.co, c.ci, c.k, c.k], std: 0.2, rng: &rng)
      let b = c.bias ? Tensor.normal([c.co], std: 0.2, rng: &rng) : nil
      let outDims = [c.n, c.co, (c.h + 2 * c.padding - c.k) / c.stride + 1, (c.w + 2 * c.padding - c.k) / c.stride + 1]
      let a = c.adding ? Tensor.normal(Shape(outDims), rng: &rng) : nil
      DenseConvPolicy.enabled = true
      if denseConvApplies(input: x.shape.dims, weight: wt.shape.dims, output: outDims) { dense += 1 }
      let expected = reference(c, x, wt, b, a)
      for enabled in [true, false] {
        DenseConvPolicy.enabled = enabled
        let y = withNoGrad {
          conv2d(x, weight: wt, bias: b, stride: c.stride, padding: c.padding, postOp: c.postOp, adding: a)
        }
        XCTAssertEqual(y.shape.dims, outDims, "\(c)")
        assertCloseToRMS(
          y.toLayout(.plain, differentiable: false).array, expected, tol: 1e-5, "\(c), dense path allowed: \(enabled)")
      }
    }
    XCTAssertGreaterThan(dense, 15, "too few random cases took the dense path")
  }

  func testChangedWeightsAreUnrolledAgain() {
    var rng = RNG(seed: 5)
    let x = Tensor.normal([3, 16, 2, 2], rng: &rng).toLayout(.nChw8c, differentiable: false)
    let wt = Tensor.normal([16, 16, 3, 3], std: 0.2, rng: &rng)
    let b = Tensor.normal([16], rng: &rng)
    XCTAssertTrue(denseConvApplies(input: x.shape.dims, weight: wt.shape.dims, output: [3, 16, 2, 2]))
    let c = Case(
      n: 3, ci: 16, co: 16, k: 3, h: 2, w: 2, stride: 1, padding: 1, layout: .nChw8c, bias: true, adding: false,
      postOp: nil)
    for step in 0..<3 {
      let y = withNoGrad { conv2d(x, weight: wt, bias: b, padding: 1) }
      assertCloseToRMS(
        y.toLayout(.plain, differentiable: false).array, reference(c, x, wt, b, nil), tol: 1e-5, "step \(step)")
      // An optimizer step changes weights and bias in place.
      wt.pointer[7] += 0.5
      wt.markModified()
      b.pointer[3] -= 1
      b.markModified()
    }
  }

  func testOnlyInferenceTakesTheDensePath() {
    // Recording for autodiff runs oneDNN's kernels, whose gradients the gradient checks cover; the
    // dense path must give the same forward values there.
    var rng = RNG(seed: 8)
    let x = Tensor.normal([2, 8, 1, 1], rng: &rng)
    x.requiresGrad = true
    let wt = Tensor.normal([8, 8, 3, 3], std: 0.3, rng: &rng)
    let trained = conv2d(x, weight: wt, padding: 1)
    trained.sum().backward()
    XCTAssertNotNil(x.grad)
    let inferred = withNoGrad { conv2d(x, weight: wt, padding: 1) }
    assertCloseToRMS(
      inferred.toLayout(.plain, differentiable: false).array, trained.toLayout(.plain, differentiable: false).array,
      tol: 1e-5, "1 × 1 input")
  }
}
