import Foundation
import NN
import Synthesis
import Tensor
import XCTest

/// Whole networks against PyTorch in Float64: outputs, every gradient after one step, running
/// statistics, and the losses of 20 optimizer steps, each within the fixture's error model
/// (``ErrorModel``), in the plain layout and with blocked activations alike: the bound does not depend
/// on the summation order, so it holds for whichever kernels oneDNN picks on a CPU.
final class ReferenceModelTests: XCTestCase {
  func withLayoutPolicy(blocked: Bool, _ body: () throws -> Void) rethrows {
    let previous = LayoutPolicy.allowBlocked
    LayoutPolicy.allowBlocked = blocked
    defer { LayoutPolicy.allowBlocked = previous }
    try body()
  }

  func checkSynthetic(_ id: String, blocked: Bool) throws {
    try withLayoutPolicy(blocked: blocked) { try checkSyntheticModel(id, blocked: blocked) }
  }

  func checkSyntheticModel(_ id: String, blocked: Bool) throws {
    let f = try Fixtures.load("synth_\(id)")
    let em = ErrorModel(f)
    let layout = blocked ? "blocked" : "plain"
    let model = SyntheticModel(try Architecture(id: id), seed: 0)
    try model.loadStateDict(f.group("param."))
    let input = f.tensor("input")
    input.requiresGrad = true
    let output = model(input)
    em.check(output, "output", "\(id) \(layout) output")
    let loss = mseLoss(output, input.detached())
    em.check([loss.item], "loss", "\(id) \(layout) loss")
    loss.backward()
    for (name, p) in model.namedParameters() {
      guard let g = p.grad else {
        XCTFail("\(id): no gradient for \(name)")
        continue
      }
      em.check(g, "grad.\(name)", "\(id) \(layout) grad \(name)")
    }
    em.check(input.grad!, "grad.input", "\(id) \(layout) grad input")
    let after = f.group("after.")
    for (name, b) in model.namedBuffers() where after[name] != nil {
      em.check(b, "after.\(name)", "\(id) \(layout) buffer \(name)")
    }
    model.eval()
    withNoGrad { em.check(model(input), "eval_output", "\(id) \(layout) eval output") }

    // 20 Adam steps from the initial state.
    let fresh = SyntheticModel(try Architecture(id: id), seed: 0)
    try fresh.loadStateDict(f.group("param."))
    let x = f.tensor("input")
    let opt = Adam(fresh.parameters, learningRate: 1e-3)
    var losses: [Float] = []
    for _ in 0..<20 {
      opt.zeroGrad()
      let l = mseLoss(fresh(x), x)
      losses.append(l.item)
      l.backward()
      opt.step()
    }
    em.check(losses, "adam_losses", "\(id) \(layout) 20 Adam losses")
  }

  func testSynthetic110011MatchesPyTorch() throws {
    try checkSynthetic("110011", blocked: false)
    try checkSynthetic("110011", blocked: true)
  }

  func testSynthetic001232MatchesPyTorch() throws {
    try checkSynthetic("001232", blocked: false)
    try checkSynthetic("001232", blocked: true)
  }

  func testResNet18MatchesPyTorch() throws {
    try withLayoutPolicy(blocked: false) { try checkResNet(blocked: false) }
    try withLayoutPolicy(blocked: true) { try checkResNet(blocked: true) }
  }

  func checkResNet(blocked: Bool) throws {
    let f = try Fixtures.load("resnet18_w8")
    let em = ErrorModel(f)
    let layout = blocked ? "blocked" : "plain"
    var rng = RNG(seed: 0)
    let model = ResNet(depth: 18, width: 8, classes: 10, projection: 16, rng: &rng)
    try model.loadStateDict(f.group("param."))
    let input = f.tensor("input")
    input.requiresGrad = true
    let labels = f.tensor("labels").array.map { Int($0) }
    let (logits, z) = model.heads(input)
    em.check(logits, "logits", "\(layout) logits")
    em.check(z, "proj", "\(layout) projection")
    let ce = crossEntropy(logits, labels: labels)
    let tri = batchHardTriplet(z, labels: labels, margin: 0.3)
    em.check([ce.item], "loss_ce", "\(layout) cross-entropy")
    em.check([tri.item], "loss_triplet", "\(layout) triplet loss")
    (ce + tri).backward()
    for (name, p) in model.namedParameters() {
      guard let g = p.grad else {
        XCTFail("no gradient for \(name)")
        continue
      }
      em.check(g, "grad.\(name)", "\(layout) grad \(name)")
    }
    em.check(input.grad!, "grad.input", "\(layout) grad input")
    let after = f.group("after.")
    for (name, b) in model.namedBuffers() where after[name] != nil {
      em.check(b, "after.\(name)", "\(layout) buffer \(name)")
    }
    model.eval()
    withNoGrad { em.check(model.embed(input), "eval_embed", "\(layout) eval embedding") }

    var rng2 = RNG(seed: 0)
    let fresh = ResNet(depth: 18, width: 8, classes: 10, projection: 16, rng: &rng2)
    try fresh.loadStateDict(f.group("param."))
    let x = f.tensor("input")
    let opt = Adam.adamW(fresh.parameters, learningRate: 1e-3, weightDecay: 0.01)
    var losses: [Float] = []
    for _ in 0..<20 {
      opt.zeroGrad()
      let (lg, zz) = fresh.heads(x)
      let l = crossEntropy(lg, labels: labels) + batchHardTriplet(zz, labels: labels)
      losses.append(l.item)
      l.backward()
      opt.step()
    }
    em.check(losses, "adamw_losses", "\(layout) 20 AdamW losses")
  }
}
