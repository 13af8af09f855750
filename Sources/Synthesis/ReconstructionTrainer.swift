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
  /// Adam learning rate; a model that diverges (NaN or loss > 1000) restarts once at a tenth of it.
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

  /// The default configuration, sized for a 2-core machine (about 25 minutes for 288 models).
  public init() {}

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
  /// Learning rate that trained it (the configured one, or a tenth after divergence).
  public var learningRate: Float
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

  /// Trains (`architecture`, `seed`); returns the model in eval mode and its record (file fields empty).
  public func train(_ architecture: Architecture, seed: Int) -> (SyntheticModel, PoolEntry) {
    let start = DispatchTime.now().uptimeNanoseconds
    var lr = config.learningRate
    while true {
      let model = SyntheticModel(architecture, seed: Self.initSeed(architecture, seed: seed))
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
        let loss = mseLoss(model(x), x)
        loss.backward()
        opt.step()
        if counted {
          KernelStats.enabled = false
          gflop = KernelStats.total("conv").flops / 1e9
        }
        let v = loss.item
        guard v.isFinite, v <= 1000 else {
          diverged = true
          break
        }
        losses.append(v)
        if config.residualTarget > 0, losses.count >= 10, mean(losses.suffix(10)) <= config.residualTarget {
          reached = true
          break
        }
      }
      if diverged && lr == config.learningRate {
        lr /= 10
        continue
      }
      model.eval()
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      let entry = PoolEntry(
        architecture: architecture.id, seed: seed, steps: losses.count,
        finalResidual: losses.isEmpty ? .nan : mean(losses.suffix(10)), firstLoss: losses.first ?? .nan,
        learningRate: lr, reachedTarget: reached, seconds: seconds, convGFLOPPerStep: gflop, file: "", checksum: "")
      return (model, entry)
    }
  }

  private func mean<C: Collection>(_ v: C) -> Float where C.Element == Float {
    v.reduce(0, +) / Float(v.count)
  }
}
