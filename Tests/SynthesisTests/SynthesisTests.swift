import Foundation
import Imaging
import NN
import Synthesis
import Tensor
import XCTest

final class ArchitectureSpaceTests: XCTestCase {
  /// `synthetic_architectures.json` from scripts/reference/make_synthesis_fixtures.py (PyTorch).
  struct Fixture: Decodable {
    struct Entry: Decodable {
      var parameters: Int
      var state: [String: [Int]]
      var output: [Int]
    }
    var architectures: [String: Entry]
  }

  static let fixture: Fixture = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/reference/synthetic_architectures.json")
    return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }()

  func testSpaceHas288DistinctIdsThatRoundTrip() throws {
    XCTAssertEqual(Architecture.all.count, 288)
    XCTAssertEqual(Set(Architecture.all.map(\.id)).count, 288)
    for a in Architecture.all { XCTAssertEqual(try Architecture(id: a.id), a) }
    XCTAssertEqual(Set(Architecture.all.map(\.id)), Set(Self.fixture.architectures.keys))
  }

  func testParameterNamesShapesAndCountsMatchPyTorch() throws {
    for a in Architecture.all {
      let ref = try XCTUnwrap(Self.fixture.architectures[a.id])
      let model = SyntheticModel(a, seed: 1)
      XCTAssertEqual(model.parameterCount, ref.parameters, "\(a.id) parameter count")
      let state = model.stateDict().filter { !$0.key.hasSuffix("num_batches_tracked") }
      XCTAssertEqual(Set(state.keys), Set(ref.state.keys), "\(a.id) state-dict names")
      for (k, t) in state { XCTAssertEqual(t.shape.dims, ref.state[k], "\(a.id) \(k)") }
    }
  }

  /// The 1×1 head maps a post-order sigmoid model's [0, 1] output onto the [−1, 1] target, which the
  /// paper's space cannot reach; the high-frequency term trains through it.
  func testConvHeadAndHighFrequencyTermTrainEveryArchitectureKind() throws {
    var rng = RNG(seed: 5)
    let x = Tensor.uniform([2, 3, 8, 8], -1, 1, rng: &rng)
    for id in ["000020", "110011", "101231", "011112"] {
      let model = SyntheticModel(try Architecture(id: id), seed: 3, head: .conv1x1)
      XCTAssertEqual(model.parameterCount, SyntheticModel(try Architecture(id: id), seed: 3).parameterCount + 12, id)
      model.train()
      let y = model(x)
      XCTAssertEqual(y.shape.dims, [2, 3, 8, 8], id)
      let loss = mseLoss(y, x) + highFrequencyMSELoss(y, x).scaled(2)
      loss.backward()
      for (name, p) in model.namedParameters() {
        let g = try XCTUnwrap(p.grad, "\(id) \(name) has no gradient")
        XCTAssertTrue(g.array.allSatisfy(\.isFinite), "\(id) \(name)")
      }
    }
  }

  /// Manifests written before the fidelity settings existed read as the settings they were trained with.
  func testConfigWithoutFidelityKeysDecodesToTheirDefaults() throws {
    let old =
      #"{"steps":50,"batch":8,"size":32,"learningRate":0.001,"residualTarget":0.002,"seeds":1,"tiles":6000,"#
      + #""tileSeed":0}"#
    let c = try JSONDecoder().decode(SynthesisConfig.self, from: Data(old.utf8))
    XCTAssertEqual(c.highFrequencyWeight, 0)
    XCTAssertEqual(c.outputHead, .none)
    XCTAssertEqual(c.steps, 50)
    var d = c
    d.highFrequencyWeight = 0.5
    d.outputHead = .conv1x1
    XCTAssertEqual(try JSONDecoder().decode(SynthesisConfig.self, from: JSONEncoder().encode(d)), d)
    XCTAssertFalse(c.trainsLike(d))
  }

  func testEveryArchitectureRunsForwardAndBackwardAtATinySize() throws {
    var rng = RNG(seed: 3)
    let x = Tensor.uniform([2, 3, 8, 8], -1, 1, rng: &rng)
    for a in Architecture.all {
      let model = SyntheticModel(a, seed: 2)
      model.train()
      let y = model(x)
      XCTAssertEqual(y.shape.dims, [2, 3, 8, 8], a.id)
      let loss = mseLoss(y, x)
      XCTAssertTrue(loss.item.isFinite, a.id)
      loss.backward()
      for (name, p) in model.namedParameters() {
        let g = try XCTUnwrap(p.grad, "\(a.id) \(name) has no gradient")
        XCTAssertTrue(g.array.allSatisfy(\.isFinite), "\(a.id) \(name)")
      }
      model.eval()
      XCTAssertEqual(withNoGrad { model(x) }.shape.dims, [2, 3, 8, 8], a.id)
    }
  }

  func testAblationSubsetsHaveThePaperSizes() {
    let sizes = Dictionary(uniqueKeysWithValues: Ablation.allCases.map { ($0, $0.architectures.count) })
    XCTAssertEqual(sizes[.all], 288)
    XCTAssertEqual(sizes[.withoutK], 144)
    XCTAssertEqual(sizes[.withoutL], 144)
    XCTAssertEqual(sizes[.withoutS], 144)
    XCTAssertEqual(sizes[.withoutU], 96)
    XCTAssertEqual(sizes[.withoutA], 72)
    XCTAssertEqual(sizes[.withoutN], 96)
    XCTAssertEqual(sizes[.withoutSeed], 288)
    XCTAssertTrue(Ablation.withoutU.architectures.allSatisfy { $0.upsampling == .bilinear })
    XCTAssertTrue(Ablation.withoutSeed.includes(Architecture.all[0], seed: 0))
    XCTAssertFalse(Ablation.withoutSeed.includes(Architecture.all[0], seed: 1))
    XCTAssertEqual(Ablation(flag: "U"), .withoutU)
    XCTAssertEqual(Ablation(flag: "w/o seed"), .withoutSeed)
    XCTAssertNil(Ablation(flag: "Q"))
  }

  func testShardsPartitionThePlan() throws {
    let all = SynthesisTask.plan(Architecture.all, seeds: 0..<3)
    XCTAssertEqual(all.count, 864)
    var seen: [String] = []
    for i in 0..<5 {
      let part = SynthesisTask.plan(Architecture.all, seeds: 0..<3, shard: try Shard("\(i)/5"))
      XCTAssertTrue(abs(part.count - 864 / 5) <= 1)
      // Striding mixes cheap and costly architectures into every shard.
      XCTAssertTrue(abs(part.filter { $0.architecture.blocks == 2 }.count - part.count / 2) <= 2)
      seen += part.map(\.key)
    }
    XCTAssertEqual(seen.count, 864)
    XCTAssertEqual(Set(seen), Set(all.map(\.key)))
    XCTAssertThrowsError(try Shard("5/5"))
    XCTAssertThrowsError(try Shard("1"))
    XCTAssertThrowsError(try Shard("-1/2"))
  }
}

final class PoolTests: XCTestCase {
  var root: URL!

  override func setUp() {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("pool-test-\(UUID().uuidString)")
  }

  override func tearDown() { try? FileManager.default.removeItem(at: root) }

  /// 40 random 16-px tiles (training reads only bytes, so noise tiles suffice).
  static func tiles(size: Int = 16) -> TileSet {
    var rng = RNG(seed: 9)
    return TileSet(size: size, bytes: (0..<(40 * 3 * size * size)).map { _ in UInt8(rng.int(256)) })
  }

  static var config: SynthesisConfig {
    var c = SynthesisConfig()
    c.size = 16
    c.steps = 12
    c.batch = 2
    c.tiles = 40
    return c
  }

  func testTileCacheRoundTripsAndDetectsCorruption() throws {
    let t = Self.tiles()
    let url = root.appendingPathComponent("tiles-16.bin")
    try t.write(to: url)
    let back = try TileSet.read(url)
    XCTAssertEqual(back.bytes, t.bytes)
    XCTAssertEqual(back.count, 40)
    var data = try Data(contentsOf: url)
    data[data.count - 5] ^= 0xFF
    try data.write(to: url)
    XCTAssertThrowsError(try TileSet.read(url)) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
    try Data("garbage".utf8).write(to: url)
    XCTAssertThrowsError(try TileSet.read(url))
    let b = t.batch([0, 39])
    XCTAssertEqual(b.shape.dims, [2, 3, 16, 16])
    XCTAssertEqual(b.pointer[0], Float(t.bytes[0]) / 127.5 - 1, accuracy: 1e-6)
  }

  func testTilesAreCutFromPhotosDeterministically() throws {
    let photos = root.appendingPathComponent("photos")
    try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
    var rng = RNG(seed: 4)
    for i in 0..<2 {
      let img = Image(width: 96, height: 80, pixels: (0..<(3 * 96 * 80)).map { _ in rng.uniform() })
      try ImageEncoder.png(img).write(to: photos.appendingPathComponent("p\(i).png"))
    }
    try Data("not an image".utf8).write(to: photos.appendingPathComponent("broken.png"))
    let files = try ImageFiles.list(photos)
    var skipped = 0
    // 3 files × 4 scales: 2 tiles per scale of each readable photo.
    let a = try TileSet.cut(from: files, count: 16, size: 32, seed: 1) { _ in skipped += 1 }
    let b = try TileSet.cut(from: files, count: 16, size: 32, seed: 1)
    XCTAssertEqual(skipped, 1)
    XCTAssertEqual(a.count, 16)
    XCTAssertEqual(a.bytes, b.bytes)
  }

  func testTrainingIsDeterministicAndReducesTheLoss() throws {
    let trainer = ReconstructionTrainer(config: Self.config, tiles: Self.tiles())
    let arch = try Architecture(id: "000000")
    let (_, e1) = try trainer.train(arch, seed: 0)
    let (_, e2) = try trainer.train(arch, seed: 0)
    let (_, e3) = try trainer.train(arch, seed: 1)
    XCTAssertEqual(e1.steps, 12)
    XCTAssertEqual(e1.finalResidual, e2.finalResidual)
    XCTAssertNotEqual(e1.finalResidual, e3.finalResidual)
    XCTAssertLessThan(e1.finalResidual, e1.firstLoss)
    XCTAssertGreaterThan(e1.convGFLOPPerStep, 0)
    XCTAssertEqual(e1.attempts, 1)
  }

  func testADivergingModelIsRetriedThenRefusedNotSavedWithNaNWeights() throws {
    var c = Self.config
    // Adam moves every weight by about the learning rate per step: at 1e30 (then 1e29, 1e28) the
    // second forward pass overflows Float whatever the kernels' rounding.
    c.learningRate = 1e30
    let trainer = ReconstructionTrainer(config: c, tiles: Self.tiles())
    XCTAssertThrowsError(try trainer.train(try Architecture(id: "000000"), seed: 0)) { error in
      guard case .diverged(let key, let rates) = error as? SynthesisError else { return XCTFail("\(error)") }
      XCTAssertEqual(key, "000000/seed-0")
      XCTAssertEqual(rates.count, ReconstructionTrainer.attemptsAtMost)
      XCTAssertEqual(rates.first, 1e30)
      XCTAssertTrue("\(error)".contains("nothing was saved"))
    }
  }

  func testResidualTargetStopsTrainingEarly() throws {
    var c = Self.config
    c.residualTarget = 10  // any model's MSE on [−1, 1] inputs is below this
    let (_, e) = try ReconstructionTrainer(config: c, tiles: Self.tiles()).train(
      try Architecture(id: "000000"), seed: 0)
    XCTAssertTrue(e.reachedTarget)
    XCTAssertEqual(e.steps, 10)
  }

  /// Trains `keys` into a pool at `url` the way `synthesize` does (save, then record).
  func build(_ url: URL, _ ids: [String], shard: Shard? = nil) throws -> PoolStore {
    let store = try PoolStore(root: url, config: Self.config, shard: shard)
    let trainer = ReconstructionTrainer(config: Self.config, tiles: Self.tiles())
    for id in ids {
      let (model, entry) = try trainer.train(try Architecture(id: id), seed: 0)
      try store.record(try PoolStore.save(model, entry: entry, config: Self.config, root: url))
    }
    return store
  }

  func testSavedModelsReloadAndReproduceTheirOutputs() throws {
    let store = try build(root, ["110011"])
    let entry = try XCTUnwrap(store.entry("110011/seed-0"))
    XCTAssertTrue(store.verify(entry))
    let (trained, _) = try ReconstructionTrainer(config: Self.config, tiles: Self.tiles()).train(
      try Architecture(id: "110011"), seed: 0)
    let loaded = try PoolStore(existing: root).load(entry)
    let x = Self.tiles().batch([1, 2])
    XCTAssertEqual(withNoGrad { loaded(x) }.array, withNoGrad { trained(x) }.array)
  }

  /// Extended-space models (eight-digit ids: a ×8 stack like a latent-diffusion decoder, a pixel-shuffle
  /// residual unit with a modulated convolution) train, save under their id and reload to the same outputs.
  func testExtendedArchitecturesTrainSaveAndReload() throws {
    let ids = ["21015301", "00036031"]
    let store = try build(root, ids)
    let reopened = try PoolStore(existing: root)
    XCTAssertEqual(try reopened.reconcile().dropped, [])
    let x = Self.tiles().batch([1, 2])
    for id in ids {
      let entry = try XCTUnwrap(store.entry("\(id)/seed-0"))
      XCTAssertTrue(store.verify(entry))
      XCTAssertTrue(entry.finalResidual.isFinite, id)
      let (trained, _) = try ReconstructionTrainer(config: Self.config, tiles: Self.tiles()).train(
        try Architecture(id: id), seed: 0)
      XCTAssertEqual(withNoGrad { try! reopened.load(entry)(x) }.array, withNoGrad { trained(x) }.array, id)
    }
  }

  func testReconcileDropsCorruptModelsRecoversUnrecordedOnesAndCleansTemporaries() throws {
    let store = try build(root, ["000000", "010121", "001232"])
    // A killed run: one model saved but not recorded, one file torn, one temporary left behind.
    let manifest = store.manifest
    var trimmed = manifest
    trimmed.models.removeAll { $0.architecture == "010121" }
    try JSONEncoder().encode(trimmed).write(to: store.manifestURL)
    let torn = root.appendingPathComponent(PoolStore.fileName("001232", seed: 0))
    let bytes = try Data(contentsOf: torn)
    try bytes.prefix(bytes.count / 2).write(to: torn)
    try Data("partial".utf8).write(to: root.appendingPathComponent("000000/.seed-1.safetensors.77.1.tmp"))

    let reopened = try PoolStore(root: root, config: Self.config)
    XCTAssertEqual(reopened.manifest.models.count, 2)
    let r = try reopened.reconcile()
    XCTAssertEqual(r.dropped, ["001232/seed-0"])
    XCTAssertEqual(r.recovered, ["010121/seed-0"])
    XCTAssertEqual(r.removedTemporaries, 1)
    XCTAssertEqual(Set(reopened.manifest.models.map(\.key)), ["000000/seed-0", "010121/seed-0"])
    XCTAssertEqual(
      reopened.entry("010121/seed-0"), manifest.models.first { $0.architecture == "010121" },
      "the recovered record equals the one the killed run would have written")
    // Reconciling again changes nothing.
    XCTAssertEqual(try reopened.reconcile(), PoolStore.Reconciliation())
  }

  func testDifferentSettingsAndShardsAreRefused() throws {
    _ = try build(root, [])
    var other = Self.config
    other.steps = 13
    XCTAssertThrowsError(try PoolStore(root: root, config: other)) {
      guard case PoolError.configMismatch = $0 else { return XCTFail("\($0)") }
    }
    XCTAssertThrowsError(try PoolStore(root: root, config: Self.config, shard: try Shard("0/2")))
    var moreSeeds = Self.config
    moreSeeds.seeds = 3
    XCTAssertEqual(try PoolStore(root: root, config: moreSeeds).manifest.config.seeds, 3, "more seeds extend a pool")
  }

  func testMergeJoinsShardsAndRefusesConflicts() throws {
    let a = try build(root.appendingPathComponent("a"), ["000000", "100000"], shard: try Shard("0/2"))
    _ = try build(root.appendingPathComponent("b"), ["010000"], shard: try Shard("1/2"))
    let merged = try PoolStore.merge(
      [a.root, root.appendingPathComponent("b")], into: root.appendingPathComponent("all"))
    XCTAssertEqual(merged.manifest.models.map(\.key), ["000000/seed-0", "010000/seed-0", "100000/seed-0"])
    XCTAssertNil(merged.manifest.shard)
    XCTAssertTrue(merged.manifest.models.allSatisfy(merged.verify))
    // Merging again is a no-op; a shard with different weights for a model already merged is refused.
    XCTAssertEqual(try PoolStore.merge([a.root], into: merged.root).manifest.models.count, 3)
    var c = try JSONDecoder().decode(PoolManifest.self, from: Data(contentsOf: a.manifestURL))
    c.models[0].checksum = "0000000000000000"
    try JSONEncoder().encode(c).write(to: a.manifestURL)
    XCTAssertThrowsError(try PoolStore.merge([a.root], into: merged.root))
  }
}

final class FingerprintingTests: XCTestCase {
  func testOutputsAreTheModelsOutputsMappedTo8BitImages() throws {
    let model = SyntheticModel(try Architecture(id: "110231"), seed: 4)
    model.eval()
    var rng = RNG(seed: 1)
    let x = Tensor.uniform([2, 3, 8, 8], rng: &rng)
    let y = model.fingerprint(x).array
    let raw = withNoGrad { model(x.scaled(2) + Tensor.full([2, 3, 8, 8], -1)) }.toLayout(.plain).array
    for (v, r) in zip(y, raw) {
      XCTAssertEqual(v, (min(max((r + 1) / 2, 0), 1) * 255).rounded() / 255, accuracy: 1e-6)
      XCTAssertEqual(v * 255, (v * 255).rounded(), accuracy: 1e-3)
    }
    let unquantized = model.fingerprint(x, quantize: false).array
    XCTAssertTrue(zip(unquantized, y).contains { abs($0 - $1) > 1e-6 })
  }
}
