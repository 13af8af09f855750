import NN
import Synthesis
import Tensor
import XCTest

final class DebugTests: XCTestCase {
  func run(_ blocked: Bool) throws -> [[Float]] {
    LayoutPolicy.allowBlocked = blocked
    defer { LayoutPolicy.allowBlocked = true }
    let f = try Fixtures.load("synth_110011")
    let model = SyntheticModel(try Architecture(id: "110011"), seed: 0)
    try model.loadStateDict(f.group("param."))
    let x = f.tensor("input")
    var acts: [Tensor] = []
    var h = x
    var results: [[Float]] = []
    // stage by stage, unit by unit
    var modules: [Module] = []
    for (_, stage) in model.children { for (_, m) in stage.children { modules.append(m) } }
    for m in modules {
      let leaf = h.detached()
      leaf.requiresGrad = true
      acts.append(leaf)
      h = m(leaf)
      results.append(h.array)
    }
    let out = h
    let loss = mseLoss(out, x)
    loss.backward()
    // now backprop stage by stage
    var g = out.grad
    _ = g
    return results
  }

  func testBisect() throws {
    LayoutPolicy.allowBlocked = true
    let f = try Fixtures.load("synth_110011")
    func grads(_ blocked: Bool) throws -> [(String, [Float])] {
      LayoutPolicy.allowBlocked = blocked
      defer { LayoutPolicy.allowBlocked = true }
      let model = SyntheticModel(try Architecture(id: "110011"), seed: 0)
      try model.loadStateDict(f.group("param."))
      var modules: [(String, Module)] = []
      for (sn, stage) in model.children { for (n, m) in stage.children { modules.append(("\(sn).\(n)", m)) } }
      let x = f.tensor("input")
      var leaves: [Tensor] = []
      var h = x
      for (_, m) in modules {
        let leaf = h.detached()
        leaf.requiresGrad = true
        leaves.append(leaf)
        h = m(leaf)
      }
      // Backward one module at a time from the loss.
      var outs: [Tensor] = []
      h = x
      for (i, (_, m)) in modules.enumerated() { outs.append(m(leaves[i])) }
      let loss = mseLoss(outs.last!, x)
      loss.backward()
      var result: [(String, [Float])] = [("in \(modules.last!.0)", leaves.last!.grad!.array)]
      for i in stride(from: modules.count - 2, through: 0, by: -1) {
        let up = leaves[i + 1].grad!
        (outs[i] * up.toLayout(outs[i].layout, differentiable: false)).sum().backward()
        result.append(("in \(modules[i].0)", leaves[i].grad!.array))
      }
      return result
    }
    let a = try grads(true)
    let b = try grads(false)
    for (x, y) in zip(a, b) {
      var num: Float = 0
      var den: Float = 0
      for i in 0..<x.1.count { num += (x.1[i] - y.1[i]) * (x.1[i] - y.1[i]); den += y.1[i] * y.1[i] }
      print("DBG", x.0, (num / den).squareRoot(), x.1.prefix(3), y.1.prefix(3))
    }
  }
}
