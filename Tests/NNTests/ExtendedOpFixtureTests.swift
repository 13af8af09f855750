import Foundation
import NN
import Tensor
import XCTest

/// The extended synthesis space's ops against PyTorch in Float64 (`ops_extended.safetensors`, made by
/// `scripts/reference/make_fixtures.py ops_extended`), within each op's error model.
final class ExtendedOpFixtureTests: XCTestCase {
  static let file = try! Fixtures.load("ops_extended")
  var f: Safetensors.File { Self.file }
  static let reductions: [String: Int] = {
    let json = file.metadata["reductions"] ?? "{}"
    return (try? JSONDecoder().decode([String: Int].self, from: Data(json.utf8))) ?? [:]
  }()

  /// Runs `op` on X.<name> in `layout`; compares Y, DX and the returned leaves' gradients.
  func check(_ name: String, layout: Layout = .plain, _ op: (Tensor) -> (Tensor, [String: Tensor])) {
    XCTAssertNotNil(Self.reductions[name], "fixture has no reduction length for \(name)")
    let em = ErrorModel(f, reduction: Self.reductions[name] ?? 1)
    let x0 = f.tensor("X.\(name)")
    let x = x0.shape.rank == 4 && layout != .plain ? x0.toLayout(layout, differentiable: false) : x0
    x.requiresGrad = true
    let (y, leaves) = op(x)
    em.check(y, "Y.\(name)", "\(name) output (\(layout))")
    (y * f.tensor("G.\(name)").toLayout(y.layout, differentiable: false)).sum().backward()
    em.check(x.grad!, "DX.\(name)", "\(name) input gradient (\(layout))")
    for (key, leaf) in leaves { em.check(leaf.grad!, "\(key).\(name)", "\(name) \(key) (\(layout))") }
  }

  func leaf(_ name: String) -> Tensor {
    let t = f.tensor(name).copy()
    t.requiresGrad = true
    return t
  }

  func testActivations() {
    check("leaky_relu") { ($0.leakyReLU(slope: 0.2), [:]) }
    check("silu") { ($0.silu(), [:]) }
    check("gelu_tanh") { ($0.gelu(), [:]) }
  }

  func testGroupNorm() {
    for layout: Layout in [.plain, .nhwc] {
      for (name, groups) in [("groupnorm_g2", 2), ("groupnorm_g1", 1)] {
        let w = leaf("W.\(name)")
        let b = leaf("B.\(name)")
        check(name, layout: layout) { (groupNorm($0, groups: groups, weight: w, bias: b), ["DW": w, "DB": b]) }
      }
    }
  }

  func testPixelShuffle() {
    for layout: Layout in [.plain, .nhwc] { check("pixel_shuffle", layout: layout) { (pixelShuffle($0), [:]) } }
  }
}

extension ExtendedOpFixtureTests {
  func testModulatedConvolution() {
    for layout: Layout in [.plain, .nhwc] {
      let w = leaf("W.modulated_conv")
      let b = leaf("B.modulated_conv")
      let s = leaf("S.modulated_conv")
      check("modulated_conv", layout: layout) {
        (modulatedConv2d($0, weight: w, style: s, bias: b, padding: 1), ["DW": w, "DB": b, "DS": s])
      }
    }
  }
}
