import Fingerprint
import Foundation
import Imaging
import NN
import Synthesis
import Tensor
import XCTest

final class SamplerAndProtocolTests: XCTestCase {
  func testEveryAnchorOfAPKBatchHasAPositiveAndANegative() {
    let sampler = PKSampler(classes: Array(10..<30), perClass: 6, p: 5, k: 3, seed: 4)
    XCTAssertEqual(sampler.batch(step: 7).labels, sampler.batch(step: 7).labels, "a batch depends only on its step")
    for step in 0..<50 {
      let (items, labels) = sampler.batch(step: step)
      XCTAssertEqual(items.count, 15)
      XCTAssertEqual(Set(labels).count, 5, "P distinct classes")
      for (i, l) in labels.enumerated() {
        XCTAssertTrue(labels.indices.contains { $0 != i && labels[$0] == l }, "anchor \(i) has a positive")
        XCTAssertTrue(labels.contains { $0 != l }, "anchor \(i) has a negative")
        XCTAssertEqual(items[i].0, 10 + l, "labels index the class list")
      }
      for c in Set(labels) {
        let tiles = items.enumerated().filter { labels[$0.offset] == c }.map(\.element.1)
        XCTAssertEqual(Set(tiles).count, 3, "K distinct tiles")
        XCTAssertTrue(tiles.allSatisfy { (0..<6).contains($0) })
      }
    }
  }

  func testOneToNAndOneToOneOnHandCheckedEmbeddings() {
    // Two classes along orthogonal axes; the third query of class 0 leans to class 1.
    let e: [[Float]] = [[1, 0], [1, 0.1], [0.9, 0], [0.2, 1], [0, 1], [0.1, 1], [0, 0.9], [0, 1.1]]
    let labels = [0, 0, 0, 0, 1, 1, 1, 1]
    let (acc, f1) = oneToN(e, labels: labels, nShot: 2)
    // Queries: 2 (→0 ✓), 3 (→1 ✗), 6 (→1 ✓), 7 (→1 ✓): accuracy 3/4; F1 class 0 = 2/3, class 1 = 4/5.
    XCTAssertEqual(acc, 0.75, accuracy: 1e-12)
    XCTAssertEqual(f1, (2.0 / 3 + 0.8) / 2, accuracy: 1e-12)
    let separated: [[Float]] = [[1, 0], [1, 0.05], [0.95, 0], [0, 1], [0.05, 1], [0, 0.9]]
    let (auc, best) = oneToOne(separated, labels: [0, 0, 0, 1, 1, 1], pairs: 200, seed: 1)
    XCTAssertEqual(auc, 1, accuracy: 1e-12)
    XCTAssertEqual(best, 1, accuracy: 1e-12)
    let (auc0, _) = oneToOne([[1, 0], [1, 0], [1, 0], [1, 0]], labels: [0, 0, 1, 1], pairs: 100)
    XCTAssertEqual(auc0, 0.5, accuracy: 1e-12, "all scores tied")
  }

  func testWindowsSpreadFromEdgeToEdgeAndScaleUpSmallImages() {
    var input = SpectralInput()
    input.size = 64
    XCTAssertEqual(
      input.windowOrigins(width: 300, height: 64, grid: 3).map(\.x), [0, 118, 236, 0, 118, 236, 0, 118, 236])
    // 65 · ½ = 32.5 rounds half to even, as numpy.
    XCTAssertEqual(input.windowOrigins(width: 129, height: 129, grid: 3).map(\.y), [0, 0, 0, 32, 32, 32, 65, 65, 65])
    var rng = RNG(seed: 1)
    for (w, h) in [(64, 64), (127, 128), (300, 17), (20, 20)] {
      let img = Image(width: w, height: h, pixels: (0..<(3 * w * h)).map { _ in rng.uniform() })
      let wins = input.windows(img, grid: 3)
      XCTAssertEqual(wins.count, 9)
      XCTAssertTrue(wins.allSatisfy { $0.width == 64 && $0.height == 64 }, "\(w)×\(h)")
    }
  }
}

final class ExtractorTrainingTests: XCTestCase {
  /// A tiny pool: 4 architectures trained a few steps on noise tiles.
  static func tinyPool() throws -> (PoolStore, TileSet, URL) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("fp-test-\(UUID().uuidString)")
    var c = SynthesisConfig()
    c.size = 16
    c.steps = 3
    c.batch = 2
    c.tiles = 24
    var rng = RNG(seed: 3)
    let tiles = TileSet(size: 16, bytes: (0..<(24 * 3 * 16 * 16)).map { _ in UInt8(rng.int(256)) })
    try tiles.write(to: root.appendingPathComponent("tiles-16.bin"))
    let store = try PoolStore(root: root, config: c)
    let trainer = ReconstructionTrainer(config: c, tiles: tiles)
    for id in ["000000", "010110", "100200", "111032", "001231"] {
      let (m, e) = trainer.train(try Architecture(id: id), seed: 0)
      try store.record(try PoolStore.save(m, entry: e, config: c, root: root))
    }
    return (store, tiles, root)
  }

  /// Losses of the first 6 steps of a fixed-seed run, recorded from this implementation; a change
  /// means the sampler, the spectra, the network, the losses or the optimizer changed.
  static let storedLosses: [Float] = [2.2115607, 3.1610518, 3.940088, 2.1041605, 1.306644, 2.5234172]

  func testFixedSeedTrainingRunMatchesStoredLosses() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    var input = SpectralInput()
    input.size = 16
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, input: input, seed: 0)
    XCTAssertEqual(set.keys.count, 5)
    var config = ExtractorConfig()
    config.steps = 6
    config.modelsPerBatch = 2
    config.tilesPerClass = 3
    config.width = 4
    config.projection = 8
    config.heldOutFraction = 0.2
    config.validationTilesPerModel = 6
    let trainer = ExtractorTrainer(config: config)
    var losses: [Float] = []
    var saved: ExtractorTrainer.Resume?
    let (extractor, held) = try trainer.train(
      set, onStep: { losses.append($0.loss) },
      onEpoch: { _, epoch, state in if epoch == 1 { saved = state() } })
    XCTAssertEqual(held.count, 1)
    XCTAssertEqual(extractor.classes.count, 4)
    XCTAssertEqual(losses.count, 6)
    XCTAssertEqual(losses.count, Self.storedLosses.count)
    for (a, b) in zip(losses, Self.storedLosses) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b))) }
    // Resuming from the end of the first epoch (4 steps: 4 classes × 6 tiles / 6) repeats the rest.
    let resume = try XCTUnwrap(saved)
    XCTAssertEqual(resume.step, 4)
    var resumed: [Float] = []
    let (again, _) = try trainer.train(set, resume: resume, onStep: { resumed.append($0.loss) })
    XCTAssertEqual(resumed, Array(losses[4...]))
    XCTAssertEqual(again.network.stateDict()["cls.weight"]?.array, extractor.network.stateDict()["cls.weight"]?.array)
    // The checkpoint round-trips with its input settings and gives the same embeddings.
    let url = root.appendingPathComponent("ex.safetensors")
    try extractor.save(to: url)
    let back = try Extractor.load(from: url)
    XCTAssertEqual(back.input, extractor.input)
    XCTAssertEqual(back.classes, extractor.classes)
    let img = tiles.image(0)
    XCTAssertEqual(back.embed(images: [img], grid: 1), extractor.embed(images: [img], grid: 1))
  }
}
