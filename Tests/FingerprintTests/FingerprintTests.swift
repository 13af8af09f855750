import Evaluation
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

  func testIdentificationAndVerificationOnHandCheckedEmbeddings() {
    // Two classes along orthogonal axes; the third query of class 0 leans to class 1.
    let e: [[Float]] = [[1, 0], [1, 0.1], [0.9, 0], [0.2, 1], [0, 1], [0.1, 1], [0, 0.9], [0, 1.1]]
    let labels = [0, 0, 0, 0, 1, 1, 1, 1]
    let identification = EvaluationProtocol.identification(e, labels: labels, nShot: 2)
    // Queries: 2 (→0 ✓), 3 (→1 ✗), 6 (→1 ✓), 7 (→1 ✓): accuracy 3/4; F1 class 0 = 2/3, class 1 = 4/5.
    XCTAssertEqual(identification.accuracy, 0.75, accuracy: 1e-12)
    XCTAssertEqual(identification.macroF1, (2.0 / 3 + 0.8) / 2, accuracy: 1e-12)
    XCTAssertEqual(identification.queries, 4)
    let separated: [[Float]] = [[1, 0], [1, 0.05], [0.95, 0], [0, 1], [0.05, 1], [0, 0.9]]
    let verification = EvaluationProtocol.verification(separated, labels: [0, 0, 0, 1, 1, 1], pairs: 200, seed: 1)
    XCTAssertEqual(verification.result.auc, 1, accuracy: 1e-12)
    XCTAssertEqual(verification.result.accuracy, 1, accuracy: 1e-12)
    let tied = EvaluationProtocol.verification([[1, 0], [1, 0], [1, 0], [1, 0]], labels: [0, 0, 1, 1], pairs: 100)
    XCTAssertEqual(tied.result.auc, 0.5, accuracy: 1e-12, "all scores tied")
  }

  func testWindowsOfAThinStripStayWithinTheAspectCap() {
    let input = SpectralInput()
    let strip = Image(width: 60000, height: 1, pixels: [Float](repeating: 0.5, count: 3 * 60000))
    let windows = input.windows(strip, grid: 3)
    XCTAssertEqual(windows.count, 9)
    XCTAssertTrue(windows.allSatisfy { $0.width == input.size && $0.height == input.size })
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
      let (m, e) = try trainer.train(try Architecture(id: id), seed: 0)
      try store.record(try PoolStore.save(m, entry: e, config: c, root: root))
    }
    return (store, tiles, root)
  }

  /// The fixed run of `scripts/reference/make_training_fixture.py`: its tiles, sampler draws, initial
  /// weights, input standardisation, first batch and the losses of six steps, all in PyTorch float64.
  static func fixture() throws -> Safetensors.File {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/reference/extractor_run.safetensors")
    return try Safetensors.read(url, requireVersion: false)
  }

  /// The fixture's error model (scripts/reference/error_model.py, as ErrorModel in NNTests): each op
  /// errs by ε = √n·u normwise (n its longest sum, u = 2⁻²⁴), `sens.<name>` is how much such errors
  /// grow by the time they reach `name`, and the engine must land within 10·ε·sens + 2u·‖exact‖.
  static func assertWithinErrorModel(
    _ a: [Float], _ name: String, in f: Safetensors.File, file: StaticString = #filePath, line: UInt = #line
  ) {
    guard let expected = f.tensors[name]?.array, let sens = f.tensors["sens.\(name)"]?.item,
      let n = f.metadata["reduction_length"].flatMap(Double.init)
    else { return XCTFail("the fixture lacks \(name), sens.\(name) or reduction_length", file: file, line: line) }
    XCTAssertEqual(a.count, expected.count, name, file: file, line: line)
    let u = 0x1p-24
    var err = 0.0
    var norm = 0.0
    for (x, y) in zip(a, expected) {
      err += (Double(x) - Double(y)) * (Double(x) - Double(y))
      norm += Double(y) * Double(y)
    }
    let bound = 10 * n.squareRoot() * u * Double(sens) + 2 * u * norm.squareRoot()
    if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
      print("error model", name, err.squareRoot(), "of", bound)
    }
    XCTAssert(
      err.squareRoot() <= bound, "\(name): ‖error‖ \(err.squareRoot()) exceeds the error model's \(bound)",
      file: file, line: line)
  }

  func testFixedSeedTrainingRunMatchesPyTorch() throws {
    let f = try Self.fixture()
    let archs = try JSONDecoder().decode([String].self, from: Data(try XCTUnwrap(f.metadata["architectures"]).utf8))
    let tiles = try XCTUnwrap(f.tensors["tiles"]).array.map { UInt8($0) }
    let set = FingerprintedSet(
      keys: archs.map { "\($0)/0" }, architectures: archs, perClass: 6, size: 64, tiles: tiles)
    var config = Self.tinyConfig()
    config.heldOut = [try XCTUnwrap(f.metadata["held_out"])]
    let trainer = ExtractorTrainer(config: config)
    let (train, heldOut) = trainer.split(set)
    XCTAssertEqual(train, [0, 1, 2, 3])
    // The sampler's draws are exact integers: the fixture reproduces the engine's generator.
    let sampler = PKSampler(
      classes: train, perClass: set.perClass, p: config.modelsPerBatch, k: config.tilesPerClass, seed: config.seed &+ 1)
    let items = try XCTUnwrap(f.tensors["batch_items"]).array.map { Int($0) }
    let labels = try XCTUnwrap(f.tensors["batch_labels"]).array.map { Int($0) }
    let batch = config.modelsPerBatch * config.tilesPerClass
    for step in 0..<config.steps {
      let (drawn, drawnLabels) = sampler.batch(step: step)
      XCTAssertEqual(drawn.map { $0.0 * set.perClass + $0.1 }, Array(items[(step * batch)..<((step + 1) * batch)]))
      XCTAssertEqual(drawnLabels, Array(labels[(step * batch)..<((step + 1) * batch)]))
    }
    // The input standardisation and the first batch of spectra.
    var input = SpectralInput()
    input.size = set.size
    (input.mean, input.std) = set.channelStatistics(train, input: input)
    Self.assertWithinErrorModel(input.mean, "mean", in: f)
    Self.assertWithinErrorModel(input.std, "std", in: f)
    let spectra = set.batch(sampler.batch(step: 0).items, input: input)
    Self.assertWithinErrorModel(spectra.array, "spectra0", in: f)
    // Six steps from the fixture's initial weights.
    var rng = RNG(seed: 0)
    let net = ResNet(depth: 18, width: config.width, classes: 4, projection: config.projection, rng: &rng)
    let params = f.tensors.filter { $0.key.hasPrefix("param.") }
    try net.loadStateDict(Dictionary(uniqueKeysWithValues: params.map { (String($0.key.dropFirst(6)), $0.value) }))
    let initial = Extractor(network: net, input: input, classes: train.map { set.keys[$0] })
    var losses: [Float] = []
    var saved: ExtractorTrainer.Resume?
    let (extractor, held) = try trainer.train(
      set, initial: initial, onStep: { losses.append($0.loss) },
      onEpoch: { _, epoch, state in if epoch == 1 { saved = state() } })
    XCTAssertEqual(held, heldOut)
    XCTAssertEqual(extractor.classes.count, 4)
    XCTAssertEqual(losses.count, 6)
    Self.assertWithinErrorModel(losses, "losses", in: f)
    // Resuming from the end of the first epoch (2 steps: 4 classes × 6 tiles / 12) repeats the rest exactly.
    let resume = try XCTUnwrap(saved)
    XCTAssertEqual(resume.step, 2)
    var resumed: [Float] = []
    let (again, _) = try trainer.train(set, initial: initial, resume: resume, onStep: { resumed.append($0.loss) })
    XCTAssertEqual(resumed, Array(losses[2...]))
    XCTAssertEqual(again.network.stateDict()["cls.weight"]?.array, extractor.network.stateDict()["cls.weight"]?.array)
    // The checkpoint round-trips with its input settings and gives the same embeddings.
    let root = try temporaryFolder("fp-test")
    let url = root.appendingPathComponent("ex.safetensors")
    try extractor.save(to: url)
    let back = try Extractor.load(from: url)
    XCTAssertEqual(back.input, extractor.input)
    XCTAssertEqual(back.classes, extractor.classes)
    let img = set.image(0, 0)
    XCTAssertEqual(back.embed(images: [img], grid: 1), extractor.embed(images: [img], grid: 1))
  }

  /// P × K = 4 × 3, ResNet-18 of width 4, 6 steps at a learning rate of 1e-4 (at 1e-3 Adam's first
  /// steps make the run too ill-conditioned to compare with a reference), one of five architectures
  /// held out.
  /// Extended-space ids (eight digits) are synthetic architectures to the held-out split like the
  /// paper's; a real generator's folder name, or an eight-digit spelling of a paper id, is not.
  func testExtendedArchitecturesCanBeHeldOut() {
    let archs = ["110011", "21015301", "gan-x", "11001100"]
    let set = FingerprintedSet(
      keys: archs.map { "\($0)/seed-0" }, architectures: archs, perClass: 1, size: 1,
      tiles: [UInt8](repeating: 0, count: archs.count * 3))
    var config = Self.tinyConfig()
    config.heldOutFraction = 1
    XCTAssertEqual(ExtractorTrainer(config: config).heldOutArchitectures(set), ["110011", "21015301"])
  }

  static func tinyConfig() -> ExtractorConfig {
    var config = ExtractorConfig()
    config.steps = 6
    config.learningRate = 1e-4
    config.modelsPerBatch = 4
    config.tilesPerClass = 3
    config.width = 4
    config.projection = 8
    config.heldOutFraction = 0.2
    config.validationTilesPerModel = 6
    return config
  }

  /// Per-frequency standardisation: every bin of every channel of the training spectra ends with mean 0
  /// and std 1 (to Float32 rounding of sums over the set), the statistics travel in the checkpoint, and
  /// a checkpoint's damaged statistics are a problem, not a crash.
  func testPerFrequencyStandardisationTrainsAndRoundTrips() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = Self.tinyConfig()
    config.standardisation = "frequency"
    let (ex, _) = try ExtractorTrainer(config: config).train(set)
    let input = ex.input
    let plane = 3 * set.size * set.size
    XCTAssertEqual(input.frequencyMean?.count, plane)
    XCTAssertNil(input.problem)
    let classes = Array(0..<set.keys.count)
    let items = classes.flatMap { c in (0..<set.perClass).map { (c, $0) } }
    let x = Tensor(uninitialized: [items.count, 3, set.size, set.size])
    input.rawSpectra(Image.batch(items.map { set.image($0.0, $0.1) }), into: x.pointer)
    input.standardise(x.pointer, count: items.count)
    let (trainClasses, _) = ExtractorTrainer(config: config).split(set)
    let trainItems = Set(trainClasses)
    let rows = items.indices.filter { trainItems.contains(items[$0].0) }
    for j in stride(from: 0, to: plane, by: 37) {
      let v = rows.map { Double(x.pointer[$0 * plane + j]) }
      let m = v.reduce(0, +) / Double(v.count)
      let sd = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
      XCTAssertEqual(m, 0, accuracy: 1e-3, "bin \(j)")
      XCTAssertEqual(sd, 1, accuracy: 1e-3, "bin \(j)")
    }
    let back = try JSONDecoder().decode(SpectralInput.self, from: JSONEncoder().encode(input))
    XCTAssertEqual(back, input)
    var bad = input
    bad.frequencyStd = Array(bad.frequencyStd!.dropLast())
    XCTAssertNotNil(bad.problem)
    bad = input
    bad.frequencyMean = nil
    XCTAssertNotNil(bad.problem)
    config.standardisation = "octave"
    XCTAssertNotNil(config.problem)
  }

  /// The cosine classifier replaces the linear one's logits only: training stays deterministic, finite
  /// and different from the linear head's, the bias of the unused linear head stays as initialised, and
  /// the settings round-trip through the config file.
  func testCosineClassifierTrainsDeterministically() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = Self.tinyConfig()
    config.cosineMargin = 0.2
    config.cosineScale = 16
    var a: [ExtractorTrainer.Step] = []
    var b: [ExtractorTrainer.Step] = []
    var linear: [Float] = []
    let (ex, _) = try ExtractorTrainer(config: config).train(set, onStep: { a.append($0) })
    _ = try ExtractorTrainer(config: config).train(set, onStep: { b.append($0) })
    _ = try ExtractorTrainer(config: Self.tinyConfig()).train(set, onStep: { linear.append($0.loss) })
    XCTAssertEqual(a.map(\.loss), b.map(\.loss))
    XCTAssertTrue(a.allSatisfy { $0.loss.isFinite && (0...1).contains($0.accuracy) })
    XCTAssertNotEqual(a.map(\.loss), linear)
    var rng = RNG(seed: config.seed)
    let fresh = ResNet(
      depth: config.depth, width: config.width, classes: ex.network.cls.weight.shape[0],
      projection: config.projection, rng: &rng)
    XCTAssertEqual(ex.network.cls.bias!.array, fresh.cls.bias!.array)
    XCTAssertNotEqual(ex.network.cls.weight.array, fresh.cls.weight.array)
    let back = try JSONDecoder().decode(ExtractorConfig.self, from: JSONEncoder().encode(config))
    XCTAssertEqual(back, config)
  }

  /// The separable blur against a direct 2-D Gaussian convolution in Float64 with the same reflect
  /// padding; both sum the same (2r+1)² products, so they agree to a few Float32 roundings.
  func testGaussianBlurMatchesADirectConvolution() {
    var rng = RNG(seed: 9)
    let (w, h) = (7, 5)
    let image = Image(width: w, height: h, pixels: (0..<(3 * w * h)).map { _ in rng.uniform() })
    for sigma in [0.3, 0.8, 1.7] {
      let fast = Augmentation.gaussianBlur(image, sigma: sigma)
      let r = max(1, Int((3 * sigma).rounded(.up)))
      func reflect(_ i: Int, _ n: Int) -> Int {
        var i = i
        while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
        return i
      }
      let g = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
      let total = g.reduce(0, +) * g.reduce(0, +)
      for c in 0..<3 {
        for y in 0..<h {
          for x in 0..<w {
            var s = 0.0
            for dy in -r...r {
              for dx in -r...r {
                let v = Double(image.pixels[c * w * h + reflect(y + dy, h) * w + reflect(x + dx, w)])
                s += g[dy + r] * g[dx + r] * v
              }
            }
            XCTAssertEqual(Double(fast.pixels[c * w * h + y * w + x]), s / total, accuracy: 1e-6, "σ \(sigma)")
          }
        }
      }
    }
  }

  /// A perturbation at probability 0 draws nothing, so configurations without it keep their batches.
  func testUnusedPerturbationsLeaveTheDrawsAlone() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var a = Augmentation()
    (a.jpegProbability, a.cropProbability) = (0.5, 0.5)
    var b = a
    (b.resizeScaleMin, b.blurSigmaMax) = (0.3, 2)
    var r1 = RNG(seed: 4)
    var r2 = RNG(seed: 4)
    for i in 0..<6 { XCTAssertEqual(a.apply(set.image(0, i), rng: &r1), b.apply(set.image(0, i), rng: &r2)) }
  }

  /// Fresh virtual generators in the batch: reproducible, a change to what the network sees, possible
  /// with no pool model at all, and refused without photo tiles or with a lone pool model.
  func testVirtualGeneratorsTrainReproducibly() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = Self.tinyConfig()
    config.virtualGenerators = 2
    XCTAssertEqual(config.poolModelsPerBatch, 2)
    var a: [ExtractorTrainer.Step] = []
    var b: [ExtractorTrainer.Step] = []
    var plain: [Float] = []
    _ = try ExtractorTrainer(config: config).train(set, photos: tiles, onStep: { a.append($0) })
    _ = try ExtractorTrainer(config: config).train(set, photos: tiles, onStep: { b.append($0) })
    _ = try ExtractorTrainer(config: Self.tinyConfig()).train(set, onStep: { plain.append($0.loss) })
    XCTAssertEqual(a.map(\.loss), b.map(\.loss))
    XCTAssertTrue(a.allSatisfy { $0.loss.isFinite && (0...1).contains($0.accuracy) })
    XCTAssertNotEqual(a.map(\.loss), plain)
    config.virtualGenerators = config.modelsPerBatch
    var only: [ExtractorTrainer.Step] = []
    _ = try ExtractorTrainer(config: config).train(set, photos: tiles, onStep: { only.append($0) })
    XCTAssertEqual(only.count, config.steps)
    XCTAssertTrue(only.allSatisfy { $0.loss.isFinite && $0.accuracy == 0 })
    XCTAssertThrowsError(try ExtractorTrainer(config: config).train(set))
    config.virtualGenerators = config.modelsPerBatch - 1
    XCTAssertNotNil(config.problem)
    config.virtualGenerators = config.modelsPerBatch + 1
    XCTAssertNotNil(config.problem)
  }

  func testAugmentedTrainingIsDeterministicAndChangesTheInput() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = Self.tinyConfig()
    config.augmentation.jpegProbability = 1
    config.augmentation.jpegQualityMin = 50
    config.augmentation.jpegQualityMax = 90
    config.augmentation.cropProbability = 1
    var a: [Float] = []
    var b: [Float] = []
    var plain: [Float] = []
    _ = try ExtractorTrainer(config: config).train(set, onStep: { a.append($0.loss) })
    _ = try ExtractorTrainer(config: config).train(set, onStep: { b.append($0.loss) })
    _ = try ExtractorTrainer(config: Self.tinyConfig()).train(set, onStep: { plain.append($0.loss) })
    XCTAssertEqual(a, b)
    XCTAssertTrue(a.allSatisfy(\.isFinite))
    XCTAssertNotEqual(a, plain, "augmentation changes what the network sees")
    // Each augmentation keeps the tile size and 8-bit values, and alters the tile.
    var rng = RNG(seed: 1)
    let tile = set.image(0, 0)
    var crop = Augmentation()
    crop.cropProbability = 1
    var jpeg = Augmentation()
    jpeg.jpegProbability = 1
    var up = Augmentation()
    up.resizeProbability = 1
    (up.resizeScaleMin, up.resizeScaleMax) = (1.5, 2)
    var down = Augmentation()
    down.resizeProbability = 1
    (down.resizeScaleMin, down.resizeScaleMax) = (0.5, 0.7)
    var blur = Augmentation()
    blur.blurProbability = 1
    var jpeg444 = jpeg
    jpeg444.jpegChroma444Probability = 1
    for aug in [crop, jpeg, up, down, blur, jpeg444] {
      XCTAssertNil(aug.problem)
      let out = aug.apply(tile, rng: &rng)
      XCTAssertEqual([out.width, out.height], [tile.width, tile.height])
      XCTAssertNotEqual(out.pixels, tile.pixels)
      XCTAssertTrue(out.pixels.allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-3 })
    }
    XCTAssertEqual(Augmentation().apply(tile, rng: &rng), tile)
  }

  func testFolderSetAndFineTuningFromAnExtractor() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    // Fingerprinted tiles saved as PNG files come back byte for byte, classes parsed from folder names.
    let folders = root.appendingPathComponent("fp")
    for (c, key) in set.keys.enumerated() {
      let dir = folders.appendingPathComponent(key.replacingOccurrences(of: "/", with: "_"))
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      for t in 0..<6 {
        try ImageEncoder.png(set.image(c, t)).write(to: dir.appendingPathComponent(String(format: "%03d.png", t)))
      }
    }
    let real = root.appendingPathComponent("real/gan-x")
    try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
    try Data("not an image".utf8).write(to: real.appendingPathComponent("broken.png"))
    var rng = RNG(seed: 5)
    let big = Image(width: 40, height: 30, pixels: (0..<(3 * 40 * 30)).map { _ in Float(rng.int(256)) / 255 })
    try ImageEncoder.png(big).write(to: real.appendingPathComponent("a.png"))
    let back = try FingerprintedSet(
      folders: folders, perModel: 6, size: 16, seed: 0, isArchitecture: { (try? Architecture(id: $0)) != nil })
    XCTAssertEqual(back.keys, set.keys.map { $0.replacingOccurrences(of: "/", with: "_") })
    XCTAssertEqual(back.architectures, set.architectures)
    XCTAssertEqual(back.tiles, set.tiles)
    // Saved tiles must have the tile size: an image of another size in a tile folder is left out, not
    // cropped into a tile.
    let odd = folders.appendingPathComponent(set.keys[0].replacingOccurrences(of: "/", with: "_"))
    try ImageEncoder.png(big).write(to: odd.appendingPathComponent("000-big.png"))
    var leftOut: [String] = []
    let exact = try FingerprintedSet(
      folders: folders, perModel: 6, size: 16, seed: 0, exactSize: true,
      isArchitecture: { (try? Architecture(id: $0)) != nil }, skipped: { leftOut.append($0) })
    XCTAssertEqual(exact.tiles, set.tiles)
    XCTAssertEqual(leftOut.count, 1)
    XCTAssertTrue(leftOut.first?.contains("40×30, not a 16×16 tile") ?? false, "\(leftOut)")
    try FileManager.default.removeItem(at: odd.appendingPathComponent("000-big.png"))
    var skipped: [String] = []
    let gans = try FingerprintedSet(
      folders: root.appendingPathComponent("real"), perModel: 6, size: 16, seed: 0, skipped: { skipped.append($0) })
    XCTAssertEqual(gans.architectures, ["gan-x"])
    XCTAssertEqual(skipped.count, 1)
    XCTAssertThrowsError(try FingerprintedSet(folders: real, perModel: 6, size: 16, seed: 0))

    var combined = set
    combined.append(gans)
    let config = Self.tinyConfig()
    let (initial, _) = try ExtractorTrainer(config: config).train(set)
    let trainer = ExtractorTrainer(config: config)
    // The real generator is never held out; the synthetic split is unchanged.
    XCTAssertEqual(trainer.heldOutArchitectures(combined), trainer.heldOutArchitectures(set))
    // Real generators alone have no architecture to hold out (this drew from an empty range before).
    XCTAssertEqual(trainer.heldOutArchitectures(gans), [])
    var tiny = config
    tiny.steps = 1
    tiny.learningRate = 1e-12
    tiny.weightDecay = 0
    let (tuned, _) = try ExtractorTrainer(config: tiny).train(combined, initial: initial)
    XCTAssertEqual(tuned.classes.count, initial.classes.count + 1)
    XCTAssertEqual(tuned.input, initial.input)
    let w0 = initial.network.stateDict()["stem.0.weight"]!.toLayout(.plain, differentiable: false).array
    let w1 = tuned.network.stateDict()["stem.0.weight"]!.toLayout(.plain, differentiable: false).array
    for (x, y) in zip(w0, w1) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    // Another depth cannot start from these weights.
    var deeper = tiny
    deeper.depth = 34
    XCTAssertThrowsError(try ExtractorTrainer(config: deeper).train(combined, initial: initial))
  }

  func testMoreTilesPerModelThanThePoolHoldsIsATypedError() throws {
    let (store, tiles, root) = try Self.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    for perModel in [tiles.count + 1, 0] {
      XCTAssertThrowsError(try FingerprintedSet(store: store, tiles: tiles, perModel: perModel, seed: 0)) { error in
        XCTAssertEqual(
          error as? FingerprintedSetError, .tooFewTiles(perModel: perModel, available: tiles.count))
        XCTAssertTrue("\(error)".contains("--tiles-per-model between 1 and \(tiles.count)"), "\(error)")
      }
    }
  }

  func testSettingsThatWouldTrapOrNeverTrainAreProblems() {
    XCTAssertNil(ExtractorConfig().problem)
    let broken: [(String, (inout ExtractorConfig) -> Void)] = [
      ("held-out fraction", { $0.heldOutFraction = 5 }), ("validation tiles", { $0.validationTilesPerModel = 0 }),
      ("learning rate", { $0.learningRate = .nan }), ("clip norm", { $0.clipNorm = 0 }),
      ("margin", { $0.margin = -1 }), ("beyond any usable network", { $0.width = 100_000 }),
      ("--cosine-margin", { $0.cosineMargin = 1 }), ("needs --cosine-margin", { $0.cosineScale = 16 }),
      (
        "--cosine-scale",
        {
          $0.cosineMargin = 0.2
          $0.cosineScale = 0
        }
      ),
    ]
    for (words, change) in broken {
      var c = ExtractorConfig()
      change(&c)
      XCTAssertTrue(c.problem?.contains(words) ?? false, "\(words): \(c.problem ?? "nil")")
    }
  }

  func testConfigDecodesPartialFilesWithDefaults() throws {
    let json = #"{"steps": 5, "depth": 34, "augmentation": {"jpegProbability": 0.5}}"#
    let c = try JSONDecoder().decode(ExtractorConfig.self, from: Data(json.utf8))
    var expected = ExtractorConfig()
    expected.steps = 5
    expected.depth = 34
    expected.augmentation.jpegProbability = 0.5
    XCTAssertEqual(c, expected)
    XCTAssertNil(c.problem)
    let full = try JSONDecoder().decode(ExtractorConfig.self, from: try JSONEncoder().encode(expected))
    XCTAssertEqual(full, expected)
    var bad = ExtractorConfig()
    bad.depth = 20
    XCTAssertNotNil(bad.problem)
    bad = ExtractorConfig()
    bad.augmentation.jpegQualityMin = 0
    XCTAssertNotNil(bad.problem)
  }
}
