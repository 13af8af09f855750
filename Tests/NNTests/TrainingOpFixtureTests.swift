import Foundation
import NN
import Tensor
import XCTest

/// The training heads' ops against PyTorch in Float64 (`ops_training.safetensors`, made by
/// `scripts/reference/make_fixtures.py ops_training`), within each op's error model.
final class TrainingOpFixtureTests: XCTestCase {
  static let file = try! Fixtures.load("ops_training")
  var f: Safetensors.File { Self.file }
  static let reductions: [String: Int] = {
    let json = file.metadata["reductions"] ?? "{}"
    return (try? JSONDecoder().decode([String: Int].self, from: Data(json.utf8))) ?? [:]
  }()

  func errorModel(_ name: String) -> ErrorModel {
    XCTAssertNotNil(Self.reductions[name], "fixture has no reduction length for \(name)")
    return ErrorModel(f, reduction: Self.reductions[name] ?? 1)
  }

  func testRowNormalisation() {
    let em = errorModel("l2_normalize_rows")
    let x = f.tensor("X.l2_normalize_rows").copy()
    x.requiresGrad = true
    let y = l2NormalizedRows(x)
    em.check(y, "Y.l2_normalize_rows", "l2_normalize_rows output")
    (y * f.tensor("G.l2_normalize_rows")).sum().backward()
    em.check(x.grad!, "DX.l2_normalize_rows", "l2_normalize_rows input gradient")
  }

  func testCosineMarginCrossEntropy() {
    let em = errorModel("cosine_margin_ce")
    let labels = f.tensor("T.cosine_margin_ce").array.map { Int($0) }
    let x = f.tensor("X.cosine_margin_ce").copy()
    let w = f.tensor("W.cosine_margin_ce").copy()
    x.requiresGrad = true
    w.requiresGrad = true
    let loss = crossEntropy(cosineMarginLogits(x, weight: w, labels: labels, scale: 30, margin: 0.35), labels: labels)
    em.check(loss, "Y.cosine_margin_ce", "cosine_margin_ce loss")
    loss.backward()
    em.check(x.grad!, "DX.cosine_margin_ce", "cosine_margin_ce embedding gradient")
    em.check(w.grad!, "DW.cosine_margin_ce", "cosine_margin_ce class-weight gradient")
  }
}
