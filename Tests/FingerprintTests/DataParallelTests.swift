import Fingerprint
import Foundation
import NN
import Tensor
import XCTest

/// R processes simulated in one: a batch split in R parts, each part's gradient computed as one
/// data-parallel process computes it (its rows differentiable, the others' projections gathered as
/// constants), summed, against the whole batch's gradient with ghost batch norm of R groups.
///
/// Error model (as the reference fixtures', scripts/reference/README.md): both compute the same
/// function; they differ in how sums are associated (a weight gradient's sum over the batch is one sum,
/// or R partial sums added; oneDNN may block a batch of N/R differently from one of N). Each such sum
/// errs by ε = √n·u relative to its size (n = N·H·W of the stem, the longest, u = 2⁻²⁴; probabilistic
/// bound, Higham & Mary 2019), so per parameter ‖Σ parts − whole‖ ≤ λ·ε·‖whole‖ with λ = 10. A gradient
/// that cancels to ~0 in exact arithmetic (the projection's bias: the triplet's pair terms sum to zero
/// over the rows) is measured against the network's RMS gradient instead of its own size.
final class DataParallelTests: XCTestCase {
  /// A group whose all-gather hands out a fixed, already gathered buffer (the sequential simulation).
  final class Gathered: ProcessGroup {
    let rank: Int
    let size: Int
    let all: [Float]
    init(rank: Int, size: Int, all: [Float]) { (self.rank, self.size, self.all) = (rank, size, all) }
    func allReduceSum(_ buffer: inout [Float]) {}
    func allGather(_ local: [Float]) -> [Float] { all }
  }

  func testPerProcessGradientsSumToTheWholeBatchGradient() throws {
    var config = ExtractorConfig()
    (config.modelsPerBatch, config.tilesPerClass, config.projection) = (4, 3, 8)
    let n = 12
    var rng = RNG(seed: 5)
    let x = Tensor((0..<(n * 3 * 16 * 16)).map { _ in rng.normal() }, shape: [n, 3, 16, 16])
    let labels = (0..<n).map { $0 / 3 }
    for r in [2, 3, 4] {
      var weights = RNG(seed: 1)
      let net = ResNet(depth: 18, width: 4, classes: 4, projection: 8, rng: &weights)
      net.train()
      // The whole batch, batch norm per contiguous 1/R.
      net.setBatchNormGroups(r)
      zeroGrad(net.parameters)
      let (logits, z) = net.heads(x)
      (crossEntropy(logits, labels: labels) + batchHardTriplet(z, labels: labels, margin: 0.3)).backward()
      let whole = net.parameters.map { $0.grad!.toLayout(.plain, differentiable: false).array }
      // R processes: forward every part, gather the projections, then each part's loss and backward.
      net.setBatchNormGroups(1)
      config.batchNormGroups = r
      let m = n / r
      let parts = (0..<r).map { k in
        Tensor(Array(x.array[(k * m * 768)..<((k + 1) * m * 768)]), shape: [m, 3, 16, 16])
      }
      let heads = parts.map { net.heads($0) }
      let gathered = heads.flatMap { $0.projection.toLayout(.plain, differentiable: false).array }
      var sum = net.parameters.map { [Float](repeating: 0, count: $0.count) }
      var lossSum: Float = 0
      for k in 0..<r {
        zeroGrad(net.parameters)
        let step = try DataParallelStep(config: config, group: Gathered(rank: k, size: r, all: gathered))
        XCTAssertEqual(step.rows, (k * m)..<((k + 1) * m))
        let (ce, triplet) = step.losses(
          logits: heads[k].logits, projection: heads[k].projection, labels: labels, margin: 0.3)
        (ce + triplet).backward()
        lossSum += ce.item + (k == 0 ? triplet.item : 0)
        for (i, p) in net.parameters.enumerated() {
          let g = p.grad!.toLayout(.plain, differentiable: false).array
          for j in g.indices { sum[i][j] += g[j] }
        }
      }
      let names = net.namedParameters().map(\.0)
      let u = 0x1p-24
      let all = whole.joined()
      let rms = (all.reduce(0) { $0 + Double($1) * Double($1) } / Double(all.count)).squareRoot()
      for (i, name) in names.enumerated() {
        let reduction = Double(n * 16 * 16)  // the stem's N·H·W, the longest batch sum
        let own = whole[i].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let norm = max(own, rms * Double(whole[i].count).squareRoot())
        var err = 0.0
        for (a, b) in zip(sum[i], whole[i]) { err += (Double(a) - Double(b)) * (Double(a) - Double(b)) }
        err = err.squareRoot()
        let bound = 10 * reduction.squareRoot() * u * norm
        if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
          print("R = \(r) \(name): error \(err) of \(bound)")
        }
        XCTAssertLessThanOrEqual(err, bound, "R = \(r), \(name): ‖Σ parts − whole‖ \(err), ‖whole‖ \(own)")
      }
      let wholeLoss = crossEntropy(logits, labels: labels).item + batchHardTriplet(z, labels: labels).item
      XCTAssertEqual(lossSum, wholeLoss, accuracy: 1e-5 * wholeLoss)
    }
  }

  /// A batch that R does not divide, or batch-norm groups that R does not divide, are typed errors.
  func testUnevenSplitsAreRefused() {
    var config = ExtractorConfig()
    (config.modelsPerBatch, config.tilesPerClass) = (5, 3)
    XCTAssertThrowsError(try DataParallelStep(config: config, group: Gathered(rank: 0, size: 2, all: [])))
    config.tilesPerClass = 4
    config.batchNormGroups = 5
    XCTAssertNil(config.problem)
    XCTAssertThrowsError(try DataParallelStep(config: config, group: Gathered(rank: 0, size: 2, all: [])))
    config.batchNormGroups = 3
    XCTAssertNotNil(config.problem, "3 groups do not divide 20 tiles")
  }
}
