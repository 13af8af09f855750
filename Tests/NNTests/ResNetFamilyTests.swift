import NN
import Tensor
import XCTest

final class ResNetFamilyTests: XCTestCase {
  /// Backbone parameter counts at torchvision's width (64) equal torchvision's resnet18/34/50 without
  /// their 1000-class fc layer (11 689 512 − 513 000, 21 797 672 − 513 000, 25 557 032 − 2 049 000).
  func testBackboneParameterCountsMatchTorchvision() {
    let expected = [18: 11_176_512, 34: 21_284_672, 50: 23_508_032]
    for depth in ResNet.depths {
      var rng = RNG(seed: 0)
      let net = ResNet(depth: depth, width: 64, classes: 10, projection: 16, rng: &rng)
      let backbone = net.namedParameters().filter { !$0.0.hasPrefix("cls.") && !$0.0.hasPrefix("proj.") }
      XCTAssertEqual(backbone.reduce(0) { $0 + $1.1.count }, expected[depth], "ResNet-\(depth)")
      XCTAssertEqual(net.embeddingWidth, depth == 50 ? 2048 : 512)
    }
  }

  /// A batch of 16 at 64 px reaches the last stage at 2 × 2, where inference takes the unrolled
  /// matrix product (``DenseConvPolicy``): the embedding equals the direct kernels' one.
  func testDenseLastStageGivesTheDirectKernelsEmbedding() {
    defer { DenseConvPolicy.enabled = true }
    var rng = RNG(seed: 3)
    let net = ResNet(depth: 18, width: 8, classes: 3, projection: 4, rng: &rng)
    let x = Tensor.uniform([DenseConvPolicy.minimumBatch, 3, 64, 64], -1, 1, rng: &rng)
    // Some training steps move the batch-norm statistics away from their initial values.
    for _ in 0..<2 { _ = net.embed(x) }
    net.eval()
    DenseConvPolicy.enabled = true
    let dense = withNoGrad { net.embed(x) }
    DenseConvPolicy.enabled = false
    let direct = withNoGrad { net.embed(x) }
    assertClose(dense, direct, rtol: 1e-4, atol: 1e-5, "embedding, dense last stage vs direct")
  }

  /// With `zeroInitResidual` every residual branch ends in a batch norm of scale 0, so a block without a
  /// downsampling shortcut passes its (non-negative, post-ReLU) input through unchanged in training mode,
  /// and a block with one gives the shortcut's output after the ReLU. Default networks keep scale 1.
  func testZeroInitResidualMakesEveryBlockItsShortcut() {
    for depth in ResNet.depths {
      var rng = RNG(seed: 2)
      let net = ResNet(depth: depth, width: 4, classes: 3, projection: 5, zeroInitResidual: true, rng: &rng)
      var plainRNG = RNG(seed: 2)
      let plain = ResNet(depth: depth, width: 4, classes: 3, projection: 5, rng: &plainRNG)
      var x = Tensor.uniform([2, 3, 32, 32], -1, 1, rng: &rng)
      x = net.stem(x)
      for (k, module) in net.body.children.map(\.1).enumerated() {
        let last = (module as? BasicBlock)?.bn2 ?? (module as! Bottleneck).bn3
        XCTAssertEqual(last.weight.array, [Float](repeating: 0, count: last.weight.count), "ResNet-\(depth) block \(k)")
        let plainLast = (plain.body.children[k].1 as? BasicBlock)?.bn2 ?? (plain.body.children[k].1 as! Bottleneck).bn3
        XCTAssertEqual(plainLast.weight.array, [Float](repeating: 1, count: plainLast.weight.count))
        let down = (module as? BasicBlock)?.down ?? (module as? Bottleneck)?.down
        let expected = down.map { $0(x).relu() } ?? x
        let y = module(x)
        assertClose(y, expected, rtol: 0, atol: 1e-6, "ResNet-\(depth) block \(k) is its shortcut")
        x = y
      }
    }
  }

  /// Every depth trains a step (forward, backward, finite gradients) and embeds in eval mode.
  func testEveryDepthRunsForwardAndBackward() {
    for depth in ResNet.depths {
      var rng = RNG(seed: 1)
      let net = ResNet(depth: depth, width: 4, classes: 3, projection: 5, rng: &rng)
      let x = Tensor.uniform([4, 3, 32, 32], -1, 1, rng: &rng)
      net.train()
      let (logits, z) = net.heads(x)
      XCTAssertEqual(logits.shape, [4, 3])
      XCTAssertEqual(z.shape, [4, 5])
      let loss = crossEntropy(logits, labels: [0, 1, 2, 0]) + batchHardTriplet(z, labels: [0, 1, 2, 0], margin: 0.3)
      loss.backward()
      for (name, p) in net.namedParameters() {
        let g = try! XCTUnwrap(p.grad, "ResNet-\(depth) \(name) has no gradient")
        XCTAssertTrue(g.toLayout(.plain, differentiable: false).array.allSatisfy(\.isFinite), "\(name)")
      }
      net.eval()
      XCTAssertEqual(withNoGrad { net.embed(x) }.shape, [4, net.embeddingWidth])
    }
  }
}
