import Foundation
import XCTest

@testable import Tensor

/// The SIMD kernels against their scalar twins on random lengths (vector body and scalar tail) and
/// at the edges of their ranges.
final class KernelTests: XCTestCase {
  var rng = RNG(seed: 8)

  func random(_ n: Int, scale: Float = 4) -> [Float] { (0..<n).map { _ in rng.normal() * scale } }

  func unary(_ x: [Float], _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    f(x, &out, x.count)
    return out
  }

  func assertRelative(
    _ a: [Float], _ b: [Float], _ tol: Float, _ what: String, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    for i in 0..<a.count where !(abs(a[i] - b[i]) <= tol * max(abs(b[i]), 1e-30)) {
      XCTFail("\(what): element \(i) (x) is \(a[i]), reference \(b[i])", file: file, line: line)
      return
    }
  }

  func testUnaryKernelsMatchReference() {
    for n in [1, 7, 16, 33, 1000, 70_001] {
      let x = random(n)
      assertRelative(unary(x, Elementwise.exp), Reference.exp(x), 4e-7, "exp n=\(n)")
      assertRelative(unary(x, Elementwise.tanh), Reference.tanh(x), 4e-7, "tanh n=\(n)")
      assertRelative(unary(x, Elementwise.sigmoid), Reference.sigmoid(x), 4e-7, "sigmoid n=\(n)")
      XCTAssertEqual(unary(x, Elementwise.relu), Reference.relu(x), "relu n=\(n)")
    }
  }

  func testTanhAndExpEdges() {
    // Tiny arguments keep full relative precision; large ones saturate like expf (∞ above the float
    // range, at most the smallest normal below it) and never give NaN.
    let x: [Float] = [0, -0.0, 1e-8, -1e-5, 0.3, 0.6249, 0.6251, -0.9, 5, -9, 20, -50, 88, -88, 100, -100, 1e30, -1e30]
    assertRelative(unary(x, Elementwise.tanh), Reference.tanh(x), 4e-7, "tanh edges")
    let e = unary(x, Elementwise.exp)
    for (xi, ei) in zip(x, e) {
      if xi > 88.8 {
        XCTAssertEqual(ei, .infinity, "exp(\(xi))")
      } else if xi < -87.3 {
        XCTAssert(ei >= 0 && ei <= Float.leastNormalMagnitude, "exp(\(xi)) = \(ei)")
      } else {
        assertRelative([ei], Reference.exp([xi]), 4e-7, "exp(\(xi))")
      }
    }
    let s = unary(x, Elementwise.sigmoid)
    XCTAssert(s.allSatisfy { $0 >= 0 && $0 <= 1 }, "sigmoid stays in [0, 1]: \(s)")
  }

  func testBinaryKernelsAndReductionsMatchReference() {
    for n in [3, 16, 50, 1 << 18] {
      let a = random(n)
      let b = random(n)
      var out = [Float](repeating: 0, count: n)
      Elementwise.add(a, b, &out, n)
      XCTAssertEqual(out, zip(a, b).map(+))
      Elementwise.mul(a, b, &out, n)
      XCTAssertEqual(out, zip(a, b).map(*))
      Elementwise.sub(a, b, &out, n)
      XCTAssertEqual(out, zip(a, b).map(-))
      Elementwise.scale(a, 0.5, &out, n)
      XCTAssertEqual(out, a.map { $0 * 0.5 })
      let sum = Double(Elementwise.sum(a, n))
      let ref = a.reduce(0.0) { $0 + Double($1) }
      XCTAssertEqual(sum, ref, accuracy: 1e-5 * Double(n))
      let sq = Double(Elementwise.squaredDistance(a, b, n))
      let refSq = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
      XCTAssertEqual(sq, refSq, accuracy: 1e-5 * refSq)
    }
  }

  func testRandomTensorsDoNotDependOnThreadCount() {
    func draw(_ threads: Int) -> [Float] {
      Threads.set(threads)
      defer { Threads.set(1) }
      var r = RNG(seed: 99)
      return Tensor.uniform([1 << 17], rng: &r).array + Tensor.normal([1000], rng: &r).array
    }
    XCTAssertEqual(draw(1), draw(2))
  }

  /// Plain 2 × 2 average pooling (the engine's own kernel) equals the reference on random shapes,
  /// odd sizes included, with one thread and with two.
  func testPlainAveragePoolingMatchesReference() {
    var r = RNG(seed: 31)
    for trial in 0..<12 {
      let (n, c, h, w) = (1 + r.int(3), 1 + r.int(5), 2 + r.int(90), 2 + r.int(90))
      let x = Tensor.normal([n, c, h, w], rng: &r)
      let expected = Reference.pool2d(x.array, n: n, c: c, h: h, w: w, kernel: 2, stride: 2, padding: 0, max: false)
      Threads.set(1 + trial % 2)
      defer { Threads.set(1) }
      let y = withNoGrad { avgPool2d(x, kernel: 2) }
      XCTAssertEqual(y.shape.dims, [n, c, h / 2, w / 2])
      assertCloseToRMS(y.array, expected, tol: 1e-6, "\(n)×\(c)×\(h)×\(w)")
    }
  }

  /// Linear layers big enough to be split into bands over the threads give the reference's values
  /// and gradients with one thread and with two.
  func testLinearInBandsMatchesReference() {
    var r = RNG(seed: 12)
    let (n, k, m) = (48, 160, 300)
    XCTAssertGreaterThan(n * k * m, 2 << 20, "the product must be big enough to be split")
    let x0 = Tensor.normal([n, k], rng: &r)
    let w0 = Tensor.normal([m, k], std: 0.1, rng: &r)
    let b0 = Tensor.normal([m], rng: &r)
    let g = Tensor.normal([n, m], rng: &r)
    let expected = Reference.linear(x0.array, n: n, k: k, weight: w0.array, m: m, bias: b0.array)
    for threads in [1, 2] {
      Threads.set(threads)
      defer { Threads.set(1) }
      let (x, w, b) = (x0.copy(), w0.copy(), b0.copy())
      for t in [x, w, b] { t.requiresGrad = true }
      let y = linear(x, weight: w, bias: b)
      assertCloseToRMS(y.array, expected, tol: 1e-5, "output, \(threads) threads")
      (y * g).sum().backward()
      // d/dx Σ y·g = g·W, d/dW = gᵀ·x, d/db = Σ_n g.
      var gx = [Float](repeating: 0, count: n * k)
      var gw = [Float](repeating: 0, count: m * k)
      for i in 0..<n {
        for o in 0..<m {
          let gv = g.pointer[i * m + o]
          for j in 0..<k {
            gx[i * k + j] += gv * w0.pointer[o * k + j]
            gw[o * k + j] += gv * x0.pointer[i * k + j]
          }
        }
      }
      let gb = (0..<m).map { o in (0..<n).reduce(Float(0)) { $0 + g.pointer[$1 * m + o] } }
      assertCloseToRMS(x.grad!.array, gx, tol: 1e-5, "input gradient, \(threads) threads")
      assertCloseToRMS(w.grad!.array, gw, tol: 1e-5, "weight gradient, \(threads) threads")
      assertCloseToRMS(b.grad!.array, gb, tol: 1e-5, "bias gradient, \(threads) threads")
    }
  }

  func testTrainingStepAllocatesNoNewBuffersAfterWarmUp() {
    var r = RNG(seed: 1)
    let x = Tensor.uniform([4, 16, 16, 16], -1, 1, rng: &r)
    let w = Tensor.normal([16, 16, 3, 3], std: 0.1, rng: &r)
    w.requiresGrad = true
    let gamma = Tensor.full([16], 1)
    gamma.requiresGrad = true
    let beta = Tensor.zeros([16])
    beta.requiresGrad = true
    func step() {
      for t in [w, gamma, beta] { t.grad = nil }
      let y = batchNorm(
        conv2d(upsampleBilinear(avgPool2d(x, kernel: 2)), weight: w, padding: 1), weight: gamma,
        bias: beta, runningMean: nil, runningVar: nil, training: true
      ).relu()
      ((y - x) * (y - x)).mean().backward()
    }
    step()
    step()
    let before = BufferPool.shared.systemAllocations
    step()
    step()
    XCTAssertEqual(BufferPool.shared.systemAllocations, before, "a warmed-up step must reuse pooled buffers")
  }
  /// An idle thread's release (pool buffers and its oneDNN primitives with their weight copies) loses
  /// nothing: the same inference forward afterwards recreates them and gives bit-identical output, and
  /// the pool allocates from the system again.
  func testIdleReleaseRecreatesPrimitivesWithTheSameResult() {
    var rng = RNG(seed: 21)
    let x = Tensor((0..<(2 * 8 * 12 * 12)).map { _ in rng.normal() }, shape: [2, 8, 12, 12])
    let w = Tensor((0..<(16 * 8 * 9)).map { _ in 0.1 * rng.normal() }, shape: [16, 8, 3, 3])
    func forward() -> [Float] {
      withNoGrad { conv2d(x, weight: w, padding: 1).relu() }.toLayout(.plain, differentiable: false).array
    }
    let before = forward()
    _ = forward()
    BufferPool.shared.trimForIdleThread()
    let allocations = BufferPool.shared.systemAllocations
    XCTAssertEqual(forward(), before)
    XCTAssertGreaterThan(BufferPool.shared.systemAllocations, allocations, "the emptied pool allocates again")
  }

  /// Lanes make primitives on every thread of the OpenMP team; the idle release drops them all, not only
  /// the calling thread's.
  func testIdleReleaseDropsTheTeamThreadsPrimitives() {
    // A team of two whatever count other tests left set: OpenMP forms it on any machine.
    let n = 2
    Threads.withCount(n) { releaseDropsTheTeamThreadsPrimitives(n) }
  }

  private func releaseDropsTheTeamThreadsPrimitives(_ n: Int) {
    var rng = RNG(seed: 22)
    let x = Tensor((0..<(2 * 8 * 12 * 12)).map { _ in rng.normal() }, shape: [2, 8, 12, 12])
    let w = Tensor((0..<(16 * 8 * 9)).map { _ in 0.1 * rng.normal() }, shape: [16, 8, 3, 3])
    func held() -> [Int] {
      var counts = [Int](repeating: 0, count: n)
      counts.withUnsafeMutableBufferPointer { c in
        Threads.parallelFor(n) { i in c[i] = DNNLContext.cachedOnCurrentThread }
      }
      return counts
    }
    Threads.parallelFor(n) { _ in
      Threads.withCount(1) { _ = withNoGrad { conv2d(x, weight: w, padding: 1) } }
    }
    XCTAssertTrue(held().allSatisfy { $0 > 0 }, "every lane made its primitives: \(held())")
    BufferPool.shared.trimForIdleThread()
    XCTAssertEqual(held(), [Int](repeating: 0, count: n))
  }
}
