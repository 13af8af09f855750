import Foundation
import NN
import Tensor
import XCTest

/// Schedules, gradient clipping and optimizer steps against PyTorch.
final class OptimizerTests: XCTestCase {
  let f = try! Fixtures.load("optim")

  func testWarmupCosineMatchesPyTorch() {
    let s = WarmupCosine(base: 0.1, warmupSteps: 5, totalSteps: 30, minimum: 1e-3)
    assertClose((0..<30).map { s.learningRate(at: $0) }, f.tensor("warmup_cosine").array, rtol: 1e-5, "warm-up cosine")
  }

  func testCosineWarmRestartsMatchesPyTorch() {
    let s = CosineWarmRestarts(base: 0.1, firstCycle: 4, multiplier: 2, minimum: 1e-3)
    assertClose((0..<40).map { s.learningRate(at: $0) }, f.tensor("warm_restarts").array, rtol: 1e-5, "warm restarts")
  }

  func testClipGradNormMatchesPyTorch() {
    let a = Tensor.zeros([3, 4])
    let b = Tensor.zeros([5])
    a.grad = f.tensor("clip.grad_a").copy()
    b.grad = f.tensor("clip.grad_b").copy()
    let norm = clipGradNorm([a, b], maxNorm: 1)
    assertClose([norm], f.tensor("clip.norm").array, rtol: 1e-6, "norm")
    assertClose(a.grad!, f.tensor("clip.clipped_a"), rtol: 1e-5, "clipped a")
    assertClose(b.grad!, f.tensor("clip.clipped_b"), rtol: 1e-5, "clipped b")
  }

  func testAdamAndAdamWStepsMatchPyTorch() {
    for (name, decoupled, wd) in [("adam", false, Float(0.01)), ("adamw", true, Float(0.05))] {
      let w = f.tensor("\(name).initial").copy()
      let opt = Adam([w], learningRate: 0.01, weightDecay: wd, decoupled: decoupled)
      for step in 0..<3 {
        w.grad = f.tensor("\(name).grad\(step)").copy()
        opt.step()
      }
      assertClose(w, f.tensor("\(name).final"), rtol: 1e-5, atol: 1e-7, "\(name) after 3 steps")
    }
  }

  func testAdamKernelMatchesReference() {
    var rng = RNG(seed: 5)
    for n in [1, 15, 16, 17, 100, 1027] {
      let p1 = (0..<n).map { _ in rng.normal() }
      let g = (0..<n).map { _ in rng.normal() }
      var p2 = p1
      var pFast = p1
      var m1 = [Float](repeating: 0.1, count: n)
      var v1 = [Float](repeating: 0.2, count: n)
      var m2 = m1
      var v2 = v1
      for decoupled in [false, true] {
        AdamKernel.update(
          p: &pFast, g: g, m: &m1, v: &v1, n: n, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
          weightDecay: 0.1, decoupled: decoupled, stepSize: 0.02, bc2Sqrt: 0.3)
        AdamKernel.referenceUpdate(
          p: &p2, g: g, m: &m2, v: &v2, n: n, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
          weightDecay: 0.1, decoupled: decoupled, stepSize: 0.02, bc2Sqrt: 0.3)
        assertClose(pFast, p2, rtol: 1e-6, atol: 1e-7, "Adam kernel n=\(n) decoupled=\(decoupled)")
      }
    }
  }
}
