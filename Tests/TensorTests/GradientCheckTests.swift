import Tensor
import XCTest

/// Every differentiable op: the fast forward against its Float64 reference, and the analytic
/// gradient against central differences of that reference, on seeded random shapes and in each
/// activation layout the op accepts.
final class GradientCheckTests: XCTestCase {
  var rng = RNG(seed: 42)

  func check(
    _ name: String, _ inputs: [Tensor], layouts: [Layout] = [.plain], tol: Double = 2e-3,
    fast: ([Tensor]) -> Tensor, reference: ([[Double]]) -> [Double], file: StaticString = #filePath, line: UInt = #line
  ) {
    for layout in layouts {
      let r = GradientCheck.run(inputs: inputs, layout: layout, fast: fast, reference: reference)
      XCTAssert(r.forwardError < 1e-4, "\(name) [\(layout)] forward: \(r)", file: file, line: line)
      XCTAssert(r.error < tol, "\(name) [\(layout)] gradient: \(r)", file: file, line: line)
    }
  }

  func normal(_ shape: Shape, std: Float = 1) -> Tensor { Tensor.normal(shape, std: std, rng: &rng) }

  /// Values at least `gap` apart in a random order, so that max pooling and ReLU stay away from ties
  /// and kinks under the finite-difference step.
  func separated(_ shape: Shape, gap: Float = 0.01) -> Tensor {
    var values = (0..<shape.count).map { Float($0 - shape.count / 2) * gap + gap / 2 }
    values.shuffle(using: &rng)
    return Tensor(values, shape: shape)
  }

  func randomImageShape(channels: Int) -> (Int, Int, Int, Int) {
    (1 + rng.int(2), channels, 4 + rng.int(5), 4 + rng.int(5))
  }

  let blocked: [Layout] = [.plain, .nChw8c, .nhwc]

  func testElementwise() {
    let s: Shape = [2, 8, 3, 5]
    let sep = separated(s)
    check("relu", [sep], layouts: blocked, fast: { $0[0].relu() }, reference: { Reference.relu($0[0]) })
    check("sigmoid", [normal(s)], layouts: blocked, fast: { $0[0].sigmoid() }, reference: { Reference.sigmoid($0[0]) })
    check("tanh", [normal(s)], layouts: blocked, fast: { $0[0].tanh() }, reference: { Reference.tanh($0[0]) })
    check("exp", [normal(s)], fast: { $0[0].exp() }, reference: { Reference.exp($0[0]) })
    check("scale", [normal(s)], fast: { $0[0].scaled(-1.5) }, reference: { $0[0].map { $0 * -1.5 } })
    check(
      "add", [normal(s), normal(s)], layouts: blocked, fast: { $0[0] + $0[1] },
      reference: { zip($0[0], $0[1]).map(+) })
    check("sub", [normal(s), normal(s)], fast: { $0[0] - $0[1] }, reference: { zip($0[0], $0[1]).map(-) })
    check(
      "mul", [normal(s), normal(s)], layouts: blocked, fast: { $0[0] * $0[1] },
      reference: { zip($0[0], $0[1]).map(*) })
    check(
      "mixed-layout add", [normal(s), normal(s)], fast: { $0[0].toLayout(.nChw8c) + $0[1] },
      reference: { zip($0[0], $0[1]).map(+) })
    check("sum", [normal(s)], fast: { $0[0].sum() }, reference: { [$0[0].reduce(0, +)] })
    check("mean", [normal(s)], fast: { $0[0].mean() }, reference: { [$0[0].reduce(0, +) / Double($0[0].count)] })
    check("reshape", [normal(s)], fast: { $0[0].reshaped([6, 40]).scaled(2) }, reference: { $0[0].map { 2 * $0 } })
    check("reorder", [normal(s)], fast: { $0[0].toLayout(.nChw8c).toLayout(.nhwc) }, reference: { $0[0] })
  }

  func testRowNormalisation() {
    check(
      "l2NormalizedRows", [normal([5, 7])], fast: { l2NormalizedRows($0[0]).scaled(1.5) },
      reference: { Reference.l2NormalizedRows($0[0], n: 5, d: 7).map { 1.5 * $0 } })
    // A zero row stays zero (PyTorch's eps) instead of becoming NaN.
    let z = l2NormalizedRows(Tensor([0, 0, 0, 3, 4, 0], shape: [2, 3])).array
    XCTAssertEqual(z, [0, 0, 0, 0.6, 0.8, 0])
  }

  func testConvolution() {
    for (k, stride, padding, bias) in [(3, 1, 1, true), (3, 2, 0, false), (1, 1, 0, true), (5, 2, 2, true)] {
      let (n, c, h, w) = randomImageShape(channels: 8)
      let co = 16
      let x = normal([n, c, h, w])
      let wt = normal([co, c, k, k], std: 0.2)
      let b = normal([co])
      let inputs = bias ? [x, wt, b] : [x, wt]
      check(
        "conv k\(k) s\(stride) p\(padding)", inputs, layouts: blocked,
        fast: { conv2d($0[0], weight: $0[1], bias: bias ? $0[2] : nil, stride: stride, padding: padding) },
        reference: {
          Reference.conv2d(
            $0[0], n: n, ci: c, h: h, w: w, weight: $0[1], co: co, k: k, bias: bias ? $0[2] : nil,
            stride: stride, padding: padding)
        })
    }
    // 2×2 spatial size: oneDNN has only its reference weights-gradient kernel for blocked layouts
    // there, and the engine's im2col GEMM takes over.
    let xs = normal([4, 32, 2, 2])
    let ws = normal([32, 32, 3, 3], std: 0.1)
    let bs = normal([32])
    check(
      "conv at 2×2", [xs, ws, bs], layouts: blocked,
      fast: { conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1) },
      reference: {
        Reference.conv2d(
          $0[0], n: 4, ci: 32, h: 2, w: 2, weight: $0[1], co: 32, k: 3, bias: $0[2], stride: 1, padding: 1)
      })
    // Few output channels: oneDNN's padded blocked output, reordered inside the op.
    let x = normal([2, 8, 6, 7])
    let w3 = normal([3, 8, 3, 3], std: 0.2)
    let b3 = normal([3])
    check(
      "conv to 3 channels", [x, w3, b3], layouts: blocked,
      fast: { conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1) },
      reference: {
        Reference.conv2d($0[0], n: 2, ci: 8, h: 6, w: 7, weight: $0[1], co: 3, k: 3, bias: $0[2], stride: 1, padding: 1)
      })
  }

  func testTransposedConvolution() {
    for (k, stride, padding, op) in [(2, 2, 0, 0), (3, 2, 1, 1), (3, 1, 1, 0)] {
      let (n, c, h, w) = randomImageShape(channels: 8)
      let co = 8
      let x = normal([n, c, h, w])
      let wt = normal([c, co, k, k], std: 0.2)
      let b = normal([co])
      check(
        "deconv k\(k) s\(stride) p\(padding) op\(op)", [x, wt, b], layouts: blocked,
        fast: {
          convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: stride, padding: padding, outputPadding: op)
        },
        reference: {
          Reference.convTranspose2d(
            $0[0], n: n, ci: c, h: h, w: w, weight: $0[1], co: co, k: k, bias: $0[2],
            stride: stride, padding: padding, outputPadding: op)
        })
    }
  }

  func testNormalization() {
    let (n, c, h, w) = (3, 8, 5, 4)
    let x = normal([n, c, h, w])
    let gamma = Tensor.uniform([c], 0.5, 1.5, rng: &rng)
    let beta = normal([c])
    check(
      "batchNorm train", [x, gamma, beta], layouts: blocked,
      fast: { batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true) },
      reference: { Reference.batchNorm($0[0], n: n, c: c, hw: h * w, weight: $0[1], bias: $0[2], eps: 1e-5) })
    let mean = normal([c])
    let variance = Tensor.uniform([c], 0.5, 2, rng: &rng)
    check(
      "batchNorm eval", [x, gamma, beta], layouts: blocked,
      fast: { batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: mean, runningVar: variance, training: false) },
      reference: {
        Reference.batchNormEval(
          $0[0], n: n, c: c, hw: h * w, weight: $0[1], bias: $0[2],
          mean: mean.array.map(Double.init), variance: variance.array.map(Double.init), eps: 1e-5)
      })
    check(
      "instanceNorm", [x], layouts: blocked, fast: { instanceNorm($0[0]) },
      reference: { Reference.instanceNorm($0[0], n: n, c: c, hw: h * w, eps: 1e-5) })
  }

  func testPooling() {
    let (n, c, h, w) = randomImageShape(channels: 8)
    let x = separated([n, c, h, w])
    check(
      "avgPool 2", [x], layouts: blocked, fast: { avgPool2d($0[0], kernel: 2) },
      reference: { Reference.pool2d($0[0], n: n, c: c, h: h, w: w, kernel: 2, stride: 2, padding: 0, max: false) })
    check(
      "avgPool 3/2/1", [x], layouts: blocked, fast: { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) },
      reference: { Reference.pool2d($0[0], n: n, c: c, h: h, w: w, kernel: 3, stride: 2, padding: 1, max: false) })
    check(
      "maxPool 3/2/1", [x], layouts: blocked, fast: { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) },
      reference: { Reference.pool2d($0[0], n: n, c: c, h: h, w: w, kernel: 3, stride: 2, padding: 1, max: true) })
    check(
      "maxPool 2", [x], layouts: blocked, fast: { maxPool2d($0[0], kernel: 2) },
      reference: { Reference.pool2d($0[0], n: n, c: c, h: h, w: w, kernel: 2, stride: 2, padding: 0, max: true) })
    check(
      "globalAvgPool", [x], layouts: blocked, fast: { globalAvgPool($0[0]) },
      reference: { Reference.globalAvgPool($0[0], n: n, c: c, hw: h * w) })
  }

  func testResampling() {
    let layouts: [Layout] = [.plain, .nChw8c, .nChw16c, .nhwc]
    for factor in [2, 3] {
      let (n, c, h, w) = randomImageShape(channels: 16)
      let x = normal([n, c, h, w])
      check(
        "bilinear ×\(factor)", [x], layouts: layouts, fast: { upsampleBilinear($0[0], factor: factor) },
        reference: { ReferenceResample.bilinear($0[0], n: n, c: c, h: h, w: w, factor: factor) })
      check(
        "nearest ×\(factor)", [x], layouts: layouts, fast: { upsampleNearest($0[0], factor: factor) },
        reference: { ReferenceResample.nearest($0[0], n: n, c: c, h: h, w: w, factor: factor) })
    }
    // Sizes of one pixel: both clamped edges at once.
    let x = normal([1, 8, 1, 3])
    check(
      "bilinear 1×3", [x], layouts: [.plain, .nChw8c], fast: { upsampleBilinear($0[0]) },
      reference: { ReferenceResample.bilinear($0[0], n: 1, c: 8, h: 1, w: 3, factor: 2) })
  }

  func testLinearAndLogSoftmax() {
    let (n, k, m) = (5, 7, 4)
    check(
      "linear", [normal([n, k]), normal([m, k]), normal([m])],
      fast: { linear($0[0], weight: $0[1], bias: $0[2]) },
      reference: { Reference.linear($0[0], n: n, k: k, weight: $0[1], m: m, bias: $0[2]) })
    check(
      "linear without bias", [normal([n, k]), normal([m, k])], fast: { linear($0[0], weight: $0[1]) },
      reference: { Reference.linear($0[0], n: n, k: k, weight: $0[1], m: m, bias: nil) })
    check(
      "logSoftmax", [normal([n, k], std: 3)], fast: { logSoftmax($0[0]) },
      reference: { Reference.logSoftmax($0[0], n: n, c: k) })
  }
}

extension GradientCheckTests {
  /// The checker itself: a deliberately wrong backward (1 % off) and a wrong forward are caught.
  func testCheckerCatchesWrongGradients() {
    let x = normal([3, 4])
    let wrongBackward = GradientCheck.run(
      inputs: [x],
      fast: { t in
        let out = t[0].scaled(2).detached()
        return differentiable("double", output: out, inputs: [t[0]]) { g in [g.scaled(2.02)] }
      },
      reference: { $0[0].map { 2 * $0 } })
    XCTAssertGreaterThan(wrongBackward.error, 5e-3)
    XCTAssertLessThan(wrongBackward.forwardError, 1e-6)
    let wrongForward = GradientCheck.run(inputs: [x], fast: { $0[0].scaled(2) }, reference: { $0[0].map { 2.01 * $0 } })
    XCTAssertGreaterThan(wrongForward.forwardError, 1e-3)
  }
}

extension GradientCheckTests {
  /// The extended synthesis space's ops: leaky ReLU, SiLU, GELU, group norm (layer norm as one
  /// group, instance-like as one channel per group) and pixel shuffle.
  func testExtendedSpaceOps() {
    let s: Shape = [2, 8, 3, 5]
    check(
      "leakyReLU", [separated(s)], layouts: blocked, fast: { $0[0].leakyReLU(slope: 0.2) },
      reference: { Reference.leakyReLU($0[0], slope: 0.2) })
    check("silu", [normal(s, std: 2)], layouts: blocked, fast: { $0[0].silu() }, reference: { Reference.silu($0[0]) })
    check("gelu", [normal(s, std: 2)], layouts: blocked, fast: { $0[0].gelu() }, reference: { Reference.gelu($0[0]) })
    let (n, c, h, w) = (3, 8, 5, 4)
    let x = normal([n, c, h, w])
    let gamma = Tensor.uniform([c], 0.5, 1.5, rng: &rng)
    let beta = normal([c])
    for groups in [1, 2, 8] {
      check(
        "groupNorm G=\(groups)", [x, gamma, beta], layouts: blocked,
        fast: { groupNorm($0[0], groups: groups, weight: $0[1], bias: $0[2]) },
        reference: {
          Reference.groupNorm($0[0], n: n, c: c, hw: h * w, groups: groups, weight: $0[1], bias: $0[2], eps: 1e-5)
        })
    }
    for r in [2, 3] {
      let (n, c, h, w) = (2, 8 * r * r, 3, 4)
      let xs = normal([n, c, h, w])
      check(
        "pixelShuffle ×\(r)", [xs], layouts: blocked, fast: { pixelShuffle($0[0], factor: r) },
        reference: { Reference.pixelShuffle($0[0], n: n, c: c / (r * r), h: h, w: w, factor: r) })
    }
  }
}

extension GradientCheckTests {
  /// StyleGAN2's modulated convolution, composed from channel scalings, the demodulation coefficients
  /// and the engine's convolution, against its definition (per-sample modulated weights).
  func testModulatedConvolution() {
    for (k, padding, demodulate) in [(3, 1, true), (1, 0, true), (3, 1, false)] {
      let (n, ci, h, w, co) = (2, 8, 5, 6, 8)
      let x = normal([n, ci, h, w])
      let wt = normal([co, ci, k, k], std: 0.3)
      let style = Tensor.uniform([n, ci], 0.5, 1.5, rng: &rng)
      let b = normal([co])
      check(
        "modulatedConv k\(k) demod \(demodulate)", [x, wt, style, b], layouts: blocked,
        fast: {
          modulatedConv2d($0[0], weight: $0[1], style: $0[2], bias: $0[3], padding: padding, demodulate: demodulate)
        },
        reference: {
          Reference.modulatedConv2d(
            $0[0], n: n, ci: ci, h: h, w: w, weight: $0[1], co: co, k: k, style: $0[2], bias: $0[3], padding: padding,
            demodulate: demodulate)
        })
    }
  }
}
