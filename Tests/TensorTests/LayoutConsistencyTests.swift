import Tensor
import XCTest

/// Every oneDNN op gives the same values and gradients whatever the activations' layout.
final class LayoutConsistencyTests: XCTestCase {
  /// Runs `op` on the same values in `layout` and in plain layout; compares outputs and input
  /// gradients (of sum(y · g) for a fixed random g).
  func compare(
    _ name: String, shape: Shape, layouts: [Layout] = [.nChw8c, .nChw16c, .nhwc],
    _ op: (Tensor) -> Tensor, file: StaticString = #filePath, line: UInt = #line
  ) {
    var rng = RNG(seed: 7)
    let x0 = Tensor.normal(shape, rng: &rng)
    func run(_ layout: Layout) -> ([Float], [Float]) {
      let x = x0.toLayout(layout, differentiable: false)
      x.requiresGrad = true
      let y = op(x)
      var r = RNG(seed: 9)
      let g = Tensor.normal(y.shape, rng: &r)
      (y * g.toLayout(y.layout, differentiable: false)).sum().backward()
      return (y.array, x.grad!.array)
    }
    let (yp, gp) = run(.plain)
    for layout in layouts {
      if layout == .nChw16c && shape[1] % 16 != 0 { continue }
      if layout == .nChw8c && shape[1] % 8 != 0 { continue }
      let (y, g) = run(layout)
      assertCloseToRMS(y, yp, tol: 1e-4, "\(name) output in \(layout)", file: file, line: line)
      assertCloseToRMS(g, gp, tol: 1e-4, "\(name) gradient in \(layout)", file: file, line: line)
    }
  }

  func testOpsAgreeAcrossLayoutsAtNetworkSizes() {
    var rng = RNG(seed: 4)
    let gamma = Tensor.uniform([32], 0.5, 1.5, rng: &rng)
    let beta = Tensor.uniform([32], -0.5, 0.5, rng: &rng)
    let w = Tensor.normal([32, 32, 3, 3], std: 0.05, rng: &rng)
    let shape: Shape = [4, 32, 32, 32]
    compare("batchNorm", shape: shape) {
      batchNorm($0, weight: gamma, bias: beta, runningMean: nil, runningVar: nil, training: true)
    }
    compare("bilinear", shape: shape) { upsampleBilinear($0) }
    compare("conv", shape: shape) { conv2d($0, weight: w, padding: 1) }
    compare("avgPool", shape: shape) { avgPool2d($0, kernel: 2) }
    let w3 = Tensor.normal([3, 32, 3, 3], std: 0.05, rng: &rng)
    let b3 = Tensor.normal([3], std: 0.1, rng: &rng)
    compare("conv to 3 channels", shape: shape) { conv2d($0, weight: w3, bias: b3, padding: 1) }
  }

  func testOpsAgreeAcrossLayouts() {
    var rng = RNG(seed: 3)
    let w = Tensor.normal([16, 16, 3, 3], std: 0.1, rng: &rng)
    let wt = Tensor.normal([16, 16, 2, 2], std: 0.1, rng: &rng)
    let gamma = Tensor.uniform([16], 0.5, 1.5, rng: &rng)
    let beta = Tensor.uniform([16], -0.5, 0.5, rng: &rng)
    let shape: Shape = [2, 16, 6, 10]
    compare("conv", shape: shape) { conv2d($0, weight: w, padding: 1) }
    compare("deconv", shape: shape) { convTranspose2d($0, weight: wt, stride: 2) }
    compare("batchNorm", shape: shape) {
      batchNorm($0, weight: gamma, bias: beta, runningMean: nil, runningVar: nil, training: true)
    }
    compare("instanceNorm", shape: shape) { instanceNorm($0) }
    compare("avgPool", shape: shape) { avgPool2d($0, kernel: 2) }
    compare("maxPool", shape: shape) { maxPool2d($0, kernel: 3, stride: 2, padding: 1) }
    compare("bilinear", shape: shape) { upsampleBilinear($0) }
    compare("nearest", shape: shape) { upsampleNearest($0) }
    compare("relu", shape: shape) { $0.relu() }
    compare("sigmoid", shape: shape) { $0.sigmoid() }
    compare("tanh", shape: shape) { $0.tanh() }
    compare("globalAvgPool", shape: shape) { globalAvgPool($0) }
    let w3 = Tensor.normal([3, 16, 3, 3], std: 0.1, rng: &rng)
    let b3 = Tensor.normal([3], std: 0.1, rng: &rng)
    compare("conv to 3 channels", shape: shape) { conv2d($0, weight: w3, bias: b3, padding: 1) }
    let w16 = Tensor.normal([16, 3, 3, 3], std: 0.1, rng: &rng)
    compare("conv from 3 channels", shape: [2, 3, 6, 10]) { conv2d($0, weight: w16, padding: 1) }
    compare("residual", shape: shape) { x in conv2d(x, weight: w, padding: 1).relu() + x }
  }
}

func assertCloseToRMS(
  _ a: [Float], _ b: [Float], tol: Float, _ what: String, file: StaticString = #filePath,
  line: UInt = #line
) {
  XCTAssertEqual(a.count, b.count, what, file: file, line: line)
  // Relative to the whole tensor's RMS, so small elements are held to the same absolute standard.
  var scale: Float = 0
  for v in b { scale += v * v }
  scale = (scale / Float(max(b.count, 1))).squareRoot() + 1e-30
  var worst: Float = 0
  var at = 0
  for i in 0..<min(a.count, b.count) {
    let e = abs(a[i] - b[i]) / scale
    if !(e <= worst) {
      worst = e
      at = i
    }
  }
  XCTAssert(
    worst <= tol, "\(what): element \(at) is \(a[at]), expected \(b[at]) (error \(worst) of RMS)", file: file,
    line: line)
}
