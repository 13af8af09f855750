import NN
import Synthesis
import Tensor
import XCTest

/// Layer behaviour not covered by the PyTorch fixtures.
final class ModuleTests: XCTestCase {
  func testDropoutScalesKeptUnitsAndIsIdentityInEval() {
    let drop = Dropout(0.25, seed: 7)
    let x = Tensor.full([100_000], 1)
    let y = drop(x).array
    let zeros = y.filter { $0 == 0 }.count
    XCTAssertEqual(Double(zeros) / Double(y.count), 0.25, accuracy: 0.01)
    XCTAssert(y.allSatisfy { $0 == 0 || abs($0 - 4 / 3) < 1e-6 })
    drop.eval()
    XCTAssertEqual(drop(x).array, x.array)
  }

  func testResidualAddsShortcutAndNamesChildren() {
    var rng = RNG(seed: 1)
    let body = Conv2D(4, 4, kernel: 3, padding: 1, rng: &rng)
    let block = Residual(body, post: Activation(.relu))
    let x = Tensor.normal([1, 4, 5, 5], rng: &rng)
    let expected = (body(x) + x).relu().array
    XCTAssertEqual(block(x).array, expected)
    XCTAssertEqual(block.namedParameters().map(\.0), ["body.weight", "body.bias"])
  }

  func testEveryArchitectureBuildsAndTrainsOneStep() throws {
    XCTAssertEqual(Architecture.all.count, 288)
    XCTAssertEqual(Set(Architecture.all.map(\.id)).count, 288)
    var rng = RNG(seed: 4)
    let x = Tensor.uniform([2, 3, 8, 8], -1, 1, rng: &rng)
    for arch in Architecture.all {
      XCTAssertEqual(try Architecture(id: arch.id), arch)
      let model = SyntheticModel(arch, seed: 1)
      let y = model(x)
      XCTAssertEqual(y.shape, x.shape, arch.id)
      mseLoss(y, x).backward()
      for (name, p) in model.namedParameters() {
        guard let g = p.grad else { return XCTFail("\(arch.id): \(name) got no gradient") }
        XCTAssert(g.array.allSatisfy(\.isFinite), "\(arch.id): \(name) has a non-finite gradient")
      }
    }
  }

  func testMalformedArchitectureIds() {
    for bad in ["", "11001", "1100111", "21001x", "210011", "110411", "110013"] {
      XCTAssertThrowsError(try Architecture(id: bad), bad) { XCTAssert("\($0)".contains(bad.isEmpty ? "''" : bad)) }
    }
  }
}

/// Inference fusion caches folded and reordered weights; training must invalidate them.
final class FusionCacheTests: XCTestCase {
  func testFusedInferenceFollowsWeightUpdates() {
    var rng = RNG(seed: 6)
    let model = Sequential(
      Conv2D(3, 16, kernel: 3, padding: 1, rng: &rng), BatchNorm2D(16), Activation(.relu),
      Conv2D(16, 16, kernel: 3, padding: 1, rng: &rng), BatchNorm2D(16))
    let x = Tensor.uniform([2, 3, 8, 8], rng: &rng)
    _ = model(x)  // one training forward: running statistics move
    model.eval()
    let before = withNoGrad { model(x) }.array
    let opt = Adam(model.parameters, learningRate: 0.05)
    model.train()
    mseLoss(model(x), Tensor.zeros([2, 16, 8, 8])).backward()
    opt.step()
    model.eval()
    let fused = withNoGrad { model(x) }.array
    let unfused = model(x).array  // autodiff on: layers run one by one
    XCTAssertNotEqual(before, fused, "the step changed the weights")
    for (a, b) in zip(fused, unfused) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
  }
}
