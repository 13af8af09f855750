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
    func allGather(_ local: [UInt8]) -> [UInt8] { fatalError("not used by a training step") }
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

/// R processes as R threads of this one: each collective waits for every rank's buffer, then hands each
/// the rank-ordered sum or concatenation (as `MPI_Allreduce` over two ranks gives a + b on both).
final class ThreadGroup: @unchecked Sendable {
  let size: Int
  private let condition = NSCondition()
  private var slots: [Any?]
  private var result: [Any] = []
  private var generation = 0

  init(size: Int) {
    self.size = size
    slots = Array(repeating: nil, count: size)
  }

  /// Every rank's `value`, once all have given theirs.
  func exchange<T>(_ rank: Int, _ value: [T]) -> [[T]] {
    condition.lock()
    defer { condition.unlock() }
    let mine = generation
    slots[rank] = value
    if slots.allSatisfy({ $0 != nil }) {
      result = slots.map { $0! }
      slots = Array(repeating: nil, count: size)
      generation += 1
      condition.broadcast()
    } else {
      while generation == mine { condition.wait() }
    }
    return result.map { $0 as! [T] }
  }

  /// Rank `rank`'s view.
  final class Rank: ProcessGroup {
    let shared: ThreadGroup
    let rank: Int
    var size: Int { shared.size }
    init(_ shared: ThreadGroup, _ rank: Int) { (self.shared, self.rank) = (shared, rank) }

    func allReduceSum(_ buffer: inout [Float]) {
      let all = shared.exchange(rank, buffer)
      var sum = all[0]
      for other in all.dropFirst() { for j in sum.indices { sum[j] += other[j] } }
      buffer = sum
    }

    func allGather(_ local: [Float]) -> [Float] { shared.exchange(rank, local).flatMap { $0 } }
    func allGather(_ local: [UInt8]) -> [UInt8] { shared.exchange(rank, local).flatMap { $0 } }
  }
}

final class DataParallelTrainingTests: XCTestCase {
  /// R processes fingerprint every R-th pool model and exchange the tiles: each ends with the set one
  /// process makes, byte for byte (5 models over 2 and 3 ranks: uneven shares included).
  func testRanksShareTheFingerprintingAndEndWithTheWholeSet() throws {
    let (store, tiles, root) = try ExtractorTrainingTests.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let whole = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 3)
    for r in [2, 3] {
      let shared = ThreadGroup(size: r)
      let sets = Locked<[Int: [UInt8]]>([:])
      let done = DispatchGroup()
      for k in 0..<r {
        done.enter()
        Thread.detachNewThread {
          var counted = 0
          if let set = try? FingerprintedSet(
            store: store, tiles: tiles, perModel: 6, seed: 3, group: ThreadGroup.Rank(shared, k),
            progress: { done, _ in counted = done })
          {
            XCTAssertEqual(counted, (5 - k + r - 1) / r, "rank \(k) ran its own models only")
            sets.withLock { $0[k] = set.tiles }
          }
          done.leave()
        }
      }
      done.wait()
      for k in 0..<r { XCTAssertEqual(sets.current[k], whole.tiles, "rank \(k) of \(r)") }
    }
  }

  /// A whole training run of two processes, simulated as two threads, against one process with
  /// `batchNormGroups` 2, with the error model of `ModelPrintCLITests.MPITrainTests` (the same check under
  /// `mpirun`): the first loss (equal weights, so one forward's rounding) within λ·ε relatively, every
  /// weight tensor within T·λ·ε·Σₜlrₜ·√m + 2u·‖w‖, every running statistic within T·λ·ε·‖r‖ + 2u·‖r‖, the
  /// projection's bias (zero exact gradient) within 2·Σₜlrₜ per element; ε = √n·u with n = N·H·W =
  /// 12·16·16.
  func testTwoSimulatedProcessesTrainAsOneWithTwoBatchNormGroups() throws {
    var rng = RNG(seed: 11)
    let archs = ["000000", "010110", "100200", "111032", "001231"]
    let set = FingerprintedSet(
      keys: archs.map { "\($0)/seed-0" }, architectures: archs, perClass: 6, size: 16,
      tiles: (0..<(archs.count * 6 * 3 * 16 * 16)).map { _ in UInt8(rng.int(256)) })
    var config = ExtractorConfig()
    (config.steps, config.learningRate, config.modelsPerBatch, config.tilesPerClass) = (6, 1e-4, 4, 3)
    (config.width, config.projection, config.heldOut, config.validationTilesPerModel) = (4, 8, ["001231"], 6)
    config.batchNormGroups = 2
    config.augmentation.jpegProbability = 0.5
    config.augmentation.cropProbability = 0.5
    let trainer = ExtractorTrainer(config: config)
    var single: [ExtractorTrainer.Step] = []
    let (one, _) = try trainer.train(set, onStep: { single.append($0) })

    let shared = ThreadGroup(size: 2)
    let results = Locked<[Int: (Extractor, [Float])]>([:])
    let done = DispatchGroup()
    for r in 0..<2 {
      done.enter()
      Thread.detachNewThread {
        var losses: [Float] = []
        if let (ex, _) = try? trainer.train(set, group: ThreadGroup.Rank(shared, r), onStep: { losses.append($0.loss) })
        {
          results.withLock { $0[r] = (ex, losses) }
        }
        done.leave()
      }
    }
    done.wait()
    let (two, losses) = try XCTUnwrap(results.current[0])
    XCTAssertNotNil(results.current[1], "rank 1 finished")
    XCTAssertEqual(losses.count, 6)
    XCTAssertEqual(results.current[1]?.1.count, 0, "only rank 0 reports steps")

    let u = 0x1p-24
    let eps = Double(12 * 16 * 16).squareRoot() * u
    XCTAssertEqual(Double(losses[0]), Double(single[0].loss), accuracy: 10 * eps * Double(single[0].loss))
    let moved = single.reduce(0) { $0 + Double($1.learningRate) }
    var worst = 0.0
    let w1 = one.network.stateDict()
    let w2 = two.network.stateDict()
    for (name, t) in w1 {
      let x = t.toLayout(.plain, differentiable: false).array
      let y = try XCTUnwrap(w2[name]).toLayout(.plain, differentiable: false).array
      if name == "proj.bias" {
        for (p, q) in zip(x, y) { XCTAssertLessThanOrEqual(abs(Double(p) - Double(q)), 2 * moved, name) }
        continue
      }
      var err = 0.0
      var norm = 0.0
      for (p, q) in zip(x, y) {
        err += (Double(p) - Double(q)) * (Double(p) - Double(q))
        norm += Double(p) * Double(p)
      }
      // Running statistics are averages of forward statistics, not lr steps: each step's errs by λ·ε
      // relatively, and T steps add up.
      let isBuffer = name.hasSuffix("running_mean") || name.hasSuffix("running_var")
      let bound =
        (isBuffer ? 6 * 10 * eps * norm.squareRoot() : 6 * 10 * eps * moved * Double(x.count).squareRoot())
        + 2 * u * norm.squareRoot()
      worst = max(worst, err.squareRoot() / bound)
      XCTAssertLessThanOrEqual(err.squareRoot(), bound, "\(name): ‖Δw‖ \(err.squareRoot()), ‖w‖ \(norm.squareRoot())")
    }
    if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil { print("worst error / bound \(worst)") }
  }
}
