import NN
import Tensor
import XCTest

/// Losses and composed blocks (a synthetic-model unit in each order, a ResNet basic block) against
/// Float64 references with finite differences; all parameters are checked as inputs.
final class GradientCheckNNTests: XCTestCase {
  var rng = RNG(seed: 11)

  func check(
    _ name: String, _ inputs: [Tensor], layouts: [Layout] = [.plain], tol: Double = 2e-3,
    fast: ([Tensor]) -> Tensor, reference: ([[Double]]) -> [Double], file: StaticString = #filePath, line: UInt = #line
  ) {
    for layout in layouts {
      let r = GradientCheck.run(inputs: inputs, layout: layout, samples: 12, fast: fast, reference: reference)
      XCTAssert(r.forwardError < 1e-4, "\(name) [\(layout)] forward: \(r)", file: file, line: line)
      XCTAssert(r.error < tol, "\(name) [\(layout)] gradient: \(r)", file: file, line: line)
    }
  }

  func normal(_ shape: Shape, std: Float = 1) -> Tensor { Tensor.normal(shape, std: std, rng: &rng) }

  func testLosses() {
    let p = normal([3, 5])
    let t = normal([3, 5])
    check("mse", [p, t], fast: { mseLoss($0[0], $0[1]) }, reference: { [ReferenceLosses.mse($0[0], $0[1])] })
    let labels = [0, 3, 1, 3, 2, 0]
    check(
      "crossEntropy", [normal([6, 4], std: 2)], fast: { crossEntropy($0[0], labels: labels) },
      reference: { [ReferenceLosses.crossEntropy($0[0], n: 6, c: 4, labels: labels)] })
    // Rows without a class (virtual generators' tiles) are left out of the sum and of the mean.
    let partial = [0, -1, 1, 3, -1, 0]
    check(
      "crossEntropy ignoring rows", [normal([6, 4], std: 2)], fast: { crossEntropy($0[0], labels: partial) },
      reference: { [ReferenceLosses.crossEntropy($0[0], n: 6, c: 4, labels: partial)] })
    let tl = [0, 0, 1, 1, 2, 2, 3, 3]
    check(
      "batchHardTriplet", [normal([8, 5])], fast: { batchHardTriplet($0[0], labels: tl, margin: 0.3) },
      reference: { [ReferenceLosses.batchHardTriplet($0[0], n: 8, d: 5, labels: tl, margin: 0.3)] })
    // Embeddings and class weights both receive gradients; a row without a class gets no margin.
    let cl = [2, 0, -1, 1, 2]
    check(
      "cosineMargin + crossEntropy", [normal([5, 6]), normal([3, 6])],
      fast: { crossEntropy(cosineMarginLogits($0[0], weight: $0[1], labels: cl, scale: 8, margin: 0.3), labels: cl) },
      reference: {
        [ReferenceLosses.cosineMarginCrossEntropy($0[0], $0[1], n: 5, d: 6, c: 3, labels: cl, scale: 8, margin: 0.3)]
      })
    // 2 × 3 planes of 4 × 5: every pixel's 3 × 3 neighbourhood wraps on at least one side somewhere.
    check(
      "highFrequencyMSE", [normal([2, 3, 4, 5]), normal([2, 3, 4, 5])],
      fast: { highFrequencyMSELoss($0[0], $0[1]) },
      reference: { [ReferenceLosses.highFrequencyMSE($0[0], $0[1], planes: 6, height: 4, width: 5)] })
  }

  /// Post order: bilinear ×2 → conv → batch norm → ReLU (a unit of architecture 110011).
  func testSyntheticUnitPostOrder() {
    let (n, c, h, w, co) = (2, 8, 4, 5, 8)
    let inputs = [
      normal([n, c, h, w]), normal([co, c, 3, 3], std: 0.2), normal([co]),
      Tensor.uniform([co], 0.5, 1.5, rng: &rng), normal([co]),
    ]
    check(
      "unit post", inputs, layouts: [.plain, .nChw8c],
      fast: { t in
        let y = conv2d(upsampleBilinear(t[0]), weight: t[1], bias: t[2], padding: 1)
        return batchNorm(y, weight: t[3], bias: t[4], runningMean: nil, runningVar: nil, training: true).relu()
      },
      reference: { t in
        let up = ReferenceResample.bilinear(t[0], n: n, c: c, h: h, w: w, factor: 2)
        let y = Reference.conv2d(
          up, n: n, ci: c, h: 2 * h, w: 2 * w, weight: t[1], co: co, k: 3, bias: t[2],
          stride: 1, padding: 1)
        return Reference.relu(Reference.batchNorm(y, n: n, c: co, hw: 4 * h * w, weight: t[3], bias: t[4], eps: 1e-5))
      })
  }

  /// Pre order: instance norm → tanh → transposed conv (k2 s2) → conv (a unit of 001232).
  func testSyntheticUnitPreOrder() {
    let (n, c, h, w, co) = (2, 8, 3, 4, 3)
    let inputs = [
      normal([n, c, h, w]), normal([c, c, 2, 2], std: 0.3), normal([c]), normal([co, c, 3, 3], std: 0.2),
      normal([co]),
    ]
    check(
      "unit pre", inputs, layouts: [.plain, .nChw8c],
      fast: { t in
        let a = instanceNorm(t[0]).tanh()
        return conv2d(convTranspose2d(a, weight: t[1], bias: t[2], stride: 2), weight: t[3], bias: t[4], padding: 1)
      },
      reference: { t in
        let a = Reference.tanh(Reference.instanceNorm(t[0], n: n, c: c, hw: h * w, eps: 1e-5))
        let up = Reference.convTranspose2d(
          a, n: n, ci: c, h: h, w: w, weight: t[1], co: c, k: 2, bias: t[2], stride: 2,
          padding: 0, outputPadding: 0)
        return Reference.conv2d(
          up, n: n, ci: c, h: 2 * h, w: 2 * w, weight: t[3], co: co, k: 3, bias: t[4], stride: 1,
          padding: 1)
      })
  }

  /// ResNet basic block with a strided projection shortcut.
  func testResNetBasicBlock() {
    let (n, c, h, w, co) = (2, 8, 6, 6, 16)
    let inputs = [
      normal([n, c, h, w]), normal([co, c, 3, 3], std: 0.2), normal([co, co, 3, 3], std: 0.1),
      normal([co, c, 1, 1], std: 0.3), Tensor.uniform([co], 0.5, 1.5, rng: &rng), normal([co]),
    ]
    check(
      "basic block", inputs, layouts: [.plain, .nChw8c],
      fast: { t in
        func bn(_ x: Tensor) -> Tensor {
          batchNorm(x, weight: t[4], bias: t[5], runningMean: nil, runningVar: nil, training: true)
        }
        let hdn = bn(conv2d(t[0], weight: t[1], stride: 2, padding: 1)).relu()
        let shortcut = bn(conv2d(t[0], weight: t[3], stride: 2))
        return (bn(conv2d(hdn, weight: t[2], padding: 1)) + shortcut).relu()
      },
      reference: { t in
        func bn(_ x: [Double]) -> [Double] {
          Reference.batchNorm(x, n: n, c: co, hw: 9, weight: t[4], bias: t[5], eps: 1e-5)
        }
        let hdn = Reference.relu(
          bn(
            Reference.conv2d(
              t[0], n: n, ci: c, h: h, w: w, weight: t[1], co: co, k: 3,
              bias: nil, stride: 2, padding: 1)))
        let shortcut = bn(
          Reference.conv2d(
            t[0], n: n, ci: c, h: h, w: w, weight: t[3], co: co, k: 1, bias: nil,
            stride: 2, padding: 0))
        let main = bn(
          Reference.conv2d(
            hdn, n: n, ci: co, h: 3, w: 3, weight: t[2], co: co, k: 3, bias: nil, stride: 1,
            padding: 1))
        return Reference.relu(zip(main, shortcut).map(+))
      })
  }

  /// ResNet bottleneck block (1×1, strided 3×3, 1×1 expand) with a strided projection shortcut.
  func testResNetBottleneckBlock() {
    let (n, c, h, w, m, co) = (2, 8, 6, 6, 4, 16)
    let inputs = [
      normal([n, c, h, w]), normal([m, c, 1, 1], std: 0.3), normal([m, m, 3, 3], std: 0.2),
      normal([co, m, 1, 1], std: 0.3), normal([co, c, 1, 1], std: 0.3),
      Tensor.uniform([m], 0.5, 1.5, rng: &rng), normal([m]), Tensor.uniform([co], 0.5, 1.5, rng: &rng), normal([co]),
    ]
    check(
      "bottleneck", inputs, layouts: [.plain, .nChw8c],
      fast: { t in
        func bn(_ x: Tensor, _ g: Tensor, _ b: Tensor) -> Tensor {
          batchNorm(x, weight: g, bias: b, runningMean: nil, runningVar: nil, training: true)
        }
        let a = bn(conv2d(t[0], weight: t[1]), t[5], t[6]).relu()
        let b = bn(conv2d(a, weight: t[2], stride: 2, padding: 1), t[5], t[6]).relu()
        let main = bn(conv2d(b, weight: t[3]), t[7], t[8])
        return (main + bn(conv2d(t[0], weight: t[4], stride: 2), t[7], t[8])).relu()
      },
      reference: { t in
        func conv(_ x: [Double], ci: Int, hw: Int, _ wt: [Double], co: Int, k: Int, stride: Int, pad: Int) -> [Double] {
          Reference.conv2d(
            x, n: n, ci: ci, h: hw, w: hw, weight: wt, co: co, k: k, bias: nil, stride: stride, padding: pad)
        }
        func bn(_ x: [Double], c: Int, hw: Int, _ g: [Double], _ b: [Double]) -> [Double] {
          Reference.batchNorm(x, n: n, c: c, hw: hw, weight: g, bias: b, eps: 1e-5)
        }
        let a = Reference.relu(
          bn(conv(t[0], ci: c, hw: h, t[1], co: m, k: 1, stride: 1, pad: 0), c: m, hw: 36, t[5], t[6]))
        let b = Reference.relu(bn(conv(a, ci: m, hw: 6, t[2], co: m, k: 3, stride: 2, pad: 1), c: m, hw: 9, t[5], t[6]))
        let main = bn(conv(b, ci: m, hw: 3, t[3], co: co, k: 1, stride: 1, pad: 0), c: co, hw: 9, t[7], t[8])
        let short = bn(conv(t[0], ci: c, hw: w, t[4], co: co, k: 1, stride: 2, pad: 0), c: co, hw: 9, t[7], t[8])
        return Reference.relu(zip(main, short).map(+))
      })
  }
}
