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
