import Foundation
import NN
import Tensor
import XCTest

/// Single ops against PyTorch in Float64: output and input gradient of sum(Y·G), plus weight
/// gradients, each within the error model of the op (``ErrorModel``, with the op's own longest sum).
final class OpFixtureTests: XCTestCase {
  static let file = try! Fixtures.load("ops")
  var f: Safetensors.File { Self.file }
  static let reductions: [String: Int] = {
    let json = file.metadata["reductions"] ?? "{}"
    return (try? JSONDecoder().decode([String: Int].self, from: Data(json.utf8))) ?? [:]
  }()

  func errorModel(_ name: String) -> ErrorModel {
    XCTAssertNotNil(Self.reductions[name], "ops fixture has no reduction length for \(name)")
    return ErrorModel(f, reduction: Self.reductions[name] ?? 1)
  }

  /// Runs `op` on X.<name> (and returns extra leaves to check), compares Y, DX and DW/DB.
  func check(_ name: String, layout: Layout = .plain, _ op: (Tensor) -> (Tensor, [String: Tensor])) {
    let em = errorModel(name)
    let x0 = f.tensor("X.\(name)")
    let x = x0.shape.rank == 4 && layout != .plain ? x0.toLayout(layout, differentiable: false) : x0
    x.requiresGrad = true
    let (y, leaves) = op(x)
    em.check(y, "Y.\(name)", "\(name) output (\(layout))")
    if let g = f.tensors["G.\(name)"] {
      (y * g.toLayout(y.layout, differentiable: false)).sum().backward()
    } else {
      y.backward()
    }
    em.check(x.grad!, "DX.\(name)", "\(name) input gradient (\(layout))")
    for (key, leaf) in leaves {
      em.check(leaf.grad!, "\(key).\(name)", "\(name) \(key) (\(layout))")
    }
  }

  func leaf(_ name: String) -> Tensor {
    let t = f.tensor(name).copy()
    t.requiresGrad = true
    return t
  }

  func testResampling() {
    for layout: Layout in [.plain, .nhwc] {
      check("upsample_bilinear", layout: layout) { (upsampleBilinear($0), [:]) }
      check("upsample_nearest", layout: layout) { (upsampleNearest($0), [:]) }
    }
  }

  func testPooling() {
    for layout: Layout in [.plain, .nhwc] {
      check("avgpool2", layout: layout) { (avgPool2d($0, kernel: 2), [:]) }
      check("maxpool3s2p1", layout: layout) { (maxPool2d($0, kernel: 3, stride: 2, padding: 1), [:]) }
      check("adaptive_avgpool1", layout: layout) { x in
        let y = globalAvgPool(x)
        return (y.reshaped([y.shape[0], y.shape[1], 1, 1]), [:])
      }
    }
  }

  func testNormalization() {
    check("instancenorm") { (instanceNorm($0), [:]) }
    let rm = Tensor.zeros([4])
    let rv = Tensor.full([4], 1)
    let w = leaf("W.batchnorm_train")
    let b = leaf("B.batchnorm_train")
    check("batchnorm_train") { x in
      (batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: true), ["DW": w, "DB": b])
    }
    let em = errorModel("batchnorm_train")
    em.check(rm, "after_running_mean.batchnorm_train", "running mean")
    em.check(rv, "after_running_var.batchnorm_train", "running var")
  }

  func testConvolutions() {
    var w = leaf("W.conv_k3s2p1")
    var b = leaf("B.conv_k3s2p1")
    check("conv_k3s2p1") { (conv2d($0, weight: w, bias: b, stride: 2, padding: 1), ["DW": w, "DB": b]) }
    w = leaf("W.conv_k7s2p3_nobias")
    check("conv_k7s2p3_nobias") { (conv2d($0, weight: w, stride: 2, padding: 3), ["DW": w]) }
    w = leaf("W.deconv_k3s2p1op1")
    b = leaf("B.deconv_k3s2p1op1")
    check("deconv_k3s2p1op1") {
      (convTranspose2d($0, weight: w, bias: b, stride: 2, padding: 1, outputPadding: 1), ["DW": w, "DB": b])
    }
    w = leaf("W.deconv_k2s2")
    b = leaf("B.deconv_k2s2")
    check("deconv_k2s2") { (convTranspose2d($0, weight: w, bias: b, stride: 2), ["DW": w, "DB": b]) }
  }

  func testActivationsAndLinear() {
    check("relu") { ($0.relu(), [:]) }
    check("sigmoid") { ($0.sigmoid(), [:]) }
    check("tanh") { ($0.tanh(), [:]) }
    check("log_softmax") { (logSoftmax($0), [:]) }
    let w = leaf("W.linear")
    let b = leaf("B.linear")
    check("linear") { (linear($0, weight: w, bias: b), ["DW": w, "DB": b]) }
  }

  func testLosses() {
    let ce = f.tensor("T.cross_entropy").array.map { Int($0) }
    check("cross_entropy") { (crossEntropy($0, labels: ce), [:]) }
    let tl = f.tensor("T.triplet").array.map { Int($0) }
    check("triplet") { (batchHardTriplet($0, labels: tl, margin: 0.3), [:]) }
    let target = f.tensor("T.mse")
    check("mse") { (mseLoss($0, target), [:]) }
  }
}
