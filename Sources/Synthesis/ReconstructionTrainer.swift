import Foundation
import NN
import Tensor

/// How every synthetic model of a pool is trained. Saved in the pool's manifest and in every model
/// file, so that a resumed run, a shard or a merge can refuse models trained differently.
public struct SynthesisConfig: Codable, Equatable, Sendable {
  /// Adam steps at most per model.
  public var steps = 150
  /// Tiles per step.
  public var batch = 8
  /// Tile side in pixels (a multiple of 4, so both block counts apply).
  public var size = 64
  /// Adam learning rate; a model that diverges (a non-finite loss or weight, or loss > 1000) restarts at
  /// a tenth of it, then at a hundredth (``ReconstructionTrainer/attemptsAtMost`` attempts in all).
  public var learningRate: Float = 1e-3
  /// Training stops early once the mean MSE (in [−1, 1]) of the last 10 steps is at or below this;
  /// 0 trains every model for the full step budget. The default, 0.002 (RMS error ≈ 6 grey levels),
  /// bounds the artifacts without letting a model become an identity map.
  public var residualTarget: Float = 0.002
  /// Seeds per architecture (seeds 0 ..< seeds).
  public var seeds = 1
  /// Real tiles cut from the photos.
  public var tiles = 6000
  /// Seed of the tile cutting.
  public var tileSeed: UInt64 = 0
  /// Weight of the high-frequency term (``highFrequencyMSELoss``) added to the reconstruction MSE; 0
  /// (the paper's plain MSE) lets models blur, so their outputs carry less high-frequency energy than
  /// real generators' do. The residual target and the recorded residuals stay plain MSE.
  public var highFrequencyWeight: Float = 0
  /// What follows the architecture's last unit (``OutputHead``).
  public var outputHead: OutputHead = .none

  /// The default configuration, sized for a 2-core machine (about 25 minutes for 288 models).
  public init() {}

  enum CodingKeys: String, CodingKey {
    case steps, batch, size, learningRate, residualTarget, seeds, tiles, tileSeed, highFrequencyWeight, outputHead
  }

  /// Absent keys take their defaults, so manifests and model files written before a setting existed
  /// still read (as the setting's default, which is how they were trained).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = SynthesisConfig()
    steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
    batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? d.batch
    size = try c.decodeIfPresent(Int.self, forKey: .size) ?? d.size
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
    residualTarget = try c.decodeIfPresent(Float.self, forKey: .residualTarget) ?? d.residualTarget
    seeds = try c.decodeIfPresent(Int.self, forKey: .seeds) ?? d.seeds
    tiles = try c.decodeIfPresent(Int.self, forKey: .tiles) ?? d.tiles
    tileSeed = try c.decodeIfPresent(UInt64.self, forKey: .tileSeed) ?? d.tileSeed
    highFrequencyWeight = try c.decodeIfPresent(Float.self, forKey: .highFrequencyWeight) ?? d.highFrequencyWeight
    outputHead = try c.decodeIfPresent(OutputHead.self, forKey: .outputHead) ?? d.outputHead
  }

  /// The paper's scale: 128 px inputs and 20 seeds per architecture (5760 models). Its step budget
  /// is not stated; 1000 steps with the residual target lets most models reach it.
  public static var paper: SynthesisConfig {
    var c = SynthesisConfig()
    c.size = 128
    c.seeds = 20
    c.steps = 1000
    c.tiles = 15000
    return c
  }

  /// Whether models trained under `other` are interchangeable with this one's (the seed count may
  /// grow: more seeds extend a pool).
  public func trainsLike(_ other: SynthesisConfig) -> Bool {
    var a = self
    var b = other
    a.seeds = 0
    b.seeds = 0
    return a == b
  }
}

/// What training one synthetic model gave; one entry of a pool's manifest.
public struct PoolEntry: Codable, Equatable, Sendable {
  /// Architecture id (six digits).
  public var architecture: String
  /// Seed of the model's weights and tile order.
  public var seed: Int
  /// Steps actually taken.
  public var steps: Int
  /// Mean MSE of the last 10 steps, in [−1, 1] units.
  public var finalResidual: Float
  /// MSE of the first step.
  public var firstLoss: Float
  /// Learning rate that trained it (the configured one, or a tenth per restart after divergence).
  public var learningRate: Float
  /// Training attempts: 1 when the first converged, more after restarts (absent in pools written
  /// before restarts were recorded, which means 1 or 2: compare `learningRate` with the config's).
  public var attempts: Int?
  /// Whether the residual target stopped training before the step budget.
  public var reachedTarget: Bool
  /// Wall seconds of training (excluding saving).
  public var seconds: Double
  /// Convolution work of one training step, in GFLOP.
  public var convGFLOPPerStep: Double
  /// File name relative to the pool root.
  public var file: String
  /// FNV-1a checksum of the file (16 hex digits).
  public var checksum: String

  /// The model's key in a pool: `<arch>/seed-<s>`.
  public var key: String { PoolEntry.key(architecture, seed) }
  /// `<arch>/seed-<s>`.
  public static func key(_ architecture: String, _ seed: Int) -> String { "\(architecture)/seed-\(seed)" }
}

/// Trains one synthetic model to reconstruct real tiles (MSE, Adam), as the paper's model synthesis.
public struct ReconstructionTrainer {
  /// Training settings.
  public var config: SynthesisConfig
  /// Real tiles to reconstruct.
  public let tiles: TileSet

  /// A trainer of `config` on `tiles` (whose size must be the config's).
  public init(config: SynthesisConfig, tiles: TileSet) {
    precondition(
      tiles.size == config.size, "ReconstructionTrainer: tiles are \(tiles.size) px, config wants \(config.size)")
    self.config = config
    self.tiles = tiles
  }

  /// Model weights are drawn from this seed, so (architecture, seed) identifies a model.
  public static func initSeed(_ architecture: Architecture, seed: Int) -> UInt64 {
    UInt64(seed) &* 100_003 &+ UInt64(Int(architecture.id)!)
  }

  /// Tile order is drawn from this seed.
  public static func dataSeed(_ architecture: Architecture, seed: Int) -> UInt64 {
    UInt64(seed) &* 7919 &+ UInt64(Int(architecture.id)!) &+ 0x5EED_0000
  }

  /// Attempts per model: the configured learning rate, then a tenth of it, then a hundredth.
  public static let attemptsAtMost = 3

  /// Trains (`architecture`, `seed`); returns the model in eval mode and its record (file fields empty).
  /// The loss is checked before each optimizer step, and the weights after the last, so a model whose
  /// training diverges is never returned: it restarts from its initial weights at a tenth of the
  /// learning rate, up to ``attemptsAtMost`` attempts.
  /// - Throws: ``SynthesisError/diverged(key:learningRates:)`` when every attempt diverged.
  public func train(_ architecture: Architecture, seed: Int) throws -> (SyntheticModel, PoolEntry) {
    let start = DispatchTime.now().uptimeNanoseconds
    var tried: [Float] = []
    for attempt in 1...Self.attemptsAtMost {
      let lr = config.learningRate / Float(pow(10, Double(attempt - 1)))
      tried.append(lr)
      let model = SyntheticModel(architecture, seed: Self.initSeed(architecture, seed: seed), head: config.outputHead)
      model.train()
      var rng = RNG(seed: Self.dataSeed(architecture, seed: seed))
      let opt = Adam(model.parameters, learningRate: lr)
      var losses: [Float] = []
      var gflop = 0.0
      var diverged = false
      var reached = false
      for step in 0..<config.steps {
        let x = tiles.batch((0..<config.batch).map { _ in rng.int(tiles.count) })
        // The second step is counted (the first builds primitives), for the pool's GFLOP/s.
        let counted = step == 1
        if counted {
          KernelStats.reset()
          KernelStats.enabled = true
        }
        opt.zeroGrad()
        let y = model(x)
        let mse = mseLoss(y, x)
        let loss =
          config.highFrequencyWeight > 0
          ? mse + highFrequencyMSELoss(y, x).scaled(config.highFrequencyWeight) : mse
        let v = mse.item
        let total = loss.item
        // Checked before the step: a step on a non-finite loss would write NaN into every weight.
        guard v.isFinite, v <= 1000, total.isFinite else {
          if counted { KernelStats.enabled = false }
          diverged = true
          break
        }
        loss.backward()
        opt.step()
        if counted {
          KernelStats.enabled = false
          gflop = KernelStats.total("conv").flops / 1e9
        }
        losses.append(v)
        if config.residualTarget > 0, losses.count >= 10, mean(losses.suffix(10)) <= config.residualTarget {
          reached = true
          break
        }
      }
      // The last step can overflow even after a finite loss; such weights must not be saved.
      if diverged || !Self.isFinite(model) { continue }
      model.eval()
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      let entry = PoolEntry(
        architecture: architecture.id, seed: seed, steps: losses.count,
        finalResidual: losses.isEmpty ? .nan : mean(losses.suffix(10)), firstLoss: losses.first ?? .nan,
        learningRate: lr, attempts: attempt, reachedTarget: reached, seconds: seconds, convGFLOPPerStep: gflop,
        file: "", checksum: "")
      return (model, entry)
    }
    throw SynthesisError.diverged(key: PoolEntry.key(architecture.id, seed), learningRates: tried)
  }

  /// Whether every parameter and buffer (batch-norm statistics too) of `model` is finite.
  static func isFinite(_ model: SyntheticModel) -> Bool {
    model.stateDict().values.allSatisfy { t in t.array.allSatisfy(\.isFinite) }
  }

  private func mean<C: Collection>(_ v: C) -> Float where C.Element == Float {
    v.reduce(0, +) / Float(v.count)
  }
}

/// Why a synthetic model could not be trained.
public enum SynthesisError: Error, CustomStringConvertible, Equatable {
  /// Every attempt diverged (a non-finite or exploding loss, or non-finite weights), at these rates.
  case diverged(key: String, learningRates: [Float])

  public var description: String {
    switch self {
    case .diverged(let key, let rates):
      return "\(key): training diverged at every learning rate tried ("
        + rates.map { String(format: "%.0e", $0) }.joined(separator: ", ")
        + "); nothing was saved. Lower the pool's learning rate or leave this model out"
    }
  }
}
