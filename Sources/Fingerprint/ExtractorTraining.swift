import Foundation
import Imaging
import NN
import Synthesis
import Tensor

/// Settings of an extractor training run. Saved beside its outputs and in the checkpoint. Decoding
/// fills absent keys with the defaults, so a config file names only what it changes.
public struct ExtractorConfig: Codable, Equatable, Sendable {
  /// Synthetic models per batch (P) and fingerprinted tiles per model (K).
  public var modelsPerBatch = 32
  public var tilesPerClass = 4
  /// Optimizer steps.
  public var steps = 1940
  /// AdamW learning rate and weight decay.
  public var learningRate: Float = 1e-3
  public var weightDecay: Float = 0.01
  /// Gradient-norm clip, applied after backward.
  public var clipNorm: Float = 5
  /// Triplet margin (Euclidean, on the projection).
  public var margin: Float = 0.3
  /// ResNet depth (18, 34 or 50), base width and projection size.
  public var depth = 18
  public var width = 32
  public var projection = 128
  /// Fingerprinted tiles per pool model.
  public var tilesPerModel = 144
  /// Fraction of the architectures held out of training for zero-shot validation.
  public var heldOutFraction = 0.1
  /// Architectures to hold out instead of a seeded fraction (to reproduce another run's split).
  public var heldOut: [String]? = nil
  /// Held-out tiles per model scored for zero-shot 1:N.
  public var validationTilesPerModel = 48
  /// Perturbations of training tiles (none by default).
  public var augmentation = Augmentation()
  /// Seed of the split, initialisation and sampling.
  public var seed: UInt64 = 0
  /// How input spectra are standardised: `channel` (one mean and std per colour channel, the paper's)
  /// or `frequency` (per frequency bin and channel; ``SpectralInput/frequencyMean``).
  public var standardisation = "channel"
  /// Batch-norm statistics per contiguous 1/G of each P × K batch (ghost batch norm; nil is 1, one set
  /// of statistics over the whole batch). Data-parallel training over R processes with per-process
  /// statistics computes what a single process computes with G = R, and records G = R here.
  public var batchNormGroups: Int? = nil
  /// How many of each batch's P models are fresh virtual generators (``VirtualGenerator``, drawn anew at
  /// every step and applied to K photo tiles) instead of pool models; nil is none. Their tiles enter the
  /// triplet loss only, since they have no class of the classifier.
  public var virtualGenerators: Int? = nil
  /// Fingerprinted tiles of one model whose raw log spectra are averaged into one training input (nil
  /// is 1, one tile per input). With M > 1 a batch draws K · M tiles of each of its P models, the network
  /// sees K inputs each the mean spectrum of M of them, and the checkpoint embeds an image from the mean
  /// spectrum of its windows (``SpectralInput/pooling`` `spectrum`).
  public var spectraPerInput: Int? = nil
  /// Start every residual branch's last batch-norm scale at 0 (``ResNet``'s `zeroInitResidual`); nil is
  /// false, the initialisation of every run before it existed.
  public var zeroInitResidual: Bool? = nil
  /// The additive margin of a cosine classifier (``cosineMarginLogits``) in place of the linear one;
  /// nil is the linear classifier of every run before it existed.
  public var cosineMargin: Float? = nil
  /// The scale s of the cosine classifier's logits (nil is ``defaultCosineScale``); only with
  /// ``cosineMargin``.
  public var cosineScale: Float? = nil
  /// A learned denoiser's checkpoint (`modelprint train-denoiser`) whose predicted noise is the residual
  /// of the input spectra (``SpectralInput/residual`` `denoiser`, the paper's residual) instead of the
  /// image minus its 3×3 box blur; nil is the high-pass residual of every run before it existed. The
  /// trained extractor embeds the denoiser's weights.
  public var denoiser: String? = nil

  /// The cosine classifier's scale when none is given: CosFace's 30, comfortably above the bound below
  /// which a normalised softmax cannot reach a confident posterior over a few hundred classes
  /// (Ranjan et al. 2017: s ≥ (C − 1)/C · log((C − 1) p / (1 − p)), about 8 for C = 576, p = 0.9).
  public static let defaultCosineScale: Float = 30

  public init() {}

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = ExtractorConfig()
    modelsPerBatch = try c.decodeIfPresent(Int.self, forKey: .modelsPerBatch) ?? d.modelsPerBatch
    tilesPerClass = try c.decodeIfPresent(Int.self, forKey: .tilesPerClass) ?? d.tilesPerClass
    steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
    clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm) ?? d.clipNorm
    margin = try c.decodeIfPresent(Float.self, forKey: .margin) ?? d.margin
    depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
    width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
    projection = try c.decodeIfPresent(Int.self, forKey: .projection) ?? d.projection
    tilesPerModel = try c.decodeIfPresent(Int.self, forKey: .tilesPerModel) ?? d.tilesPerModel
    heldOutFraction = try c.decodeIfPresent(Double.self, forKey: .heldOutFraction) ?? d.heldOutFraction
    heldOut = try c.decodeIfPresent([String].self, forKey: .heldOut)
    validationTilesPerModel =
      try c.decodeIfPresent(Int.self, forKey: .validationTilesPerModel) ?? d.validationTilesPerModel
    augmentation = try c.decodeIfPresent(Augmentation.self, forKey: .augmentation) ?? d.augmentation
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    standardisation = try c.decodeIfPresent(String.self, forKey: .standardisation) ?? d.standardisation
    batchNormGroups = try c.decodeIfPresent(Int.self, forKey: .batchNormGroups)
    virtualGenerators = try c.decodeIfPresent(Int.self, forKey: .virtualGenerators)
    spectraPerInput = try c.decodeIfPresent(Int.self, forKey: .spectraPerInput)
    zeroInitResidual = try c.decodeIfPresent(Bool.self, forKey: .zeroInitResidual)
    cosineMargin = try c.decodeIfPresent(Float.self, forKey: .cosineMargin)
    cosineScale = try c.decodeIfPresent(Float.self, forKey: .cosineScale)
    denoiser = try c.decodeIfPresent(String.self, forKey: .denoiser)
  }

  /// Tiles averaged into one training input: ``spectraPerInput``, or 1.
  public var tilesPerInput: Int { spectraPerInput ?? 1 }

  /// Pool models per batch: P less the virtual generators.
  public var poolModelsPerBatch: Int { modelsPerBatch - (virtualGenerators ?? 0) }

  /// Why these settings cannot train, or nil.
  public var problem: String? {
    if !ResNet.depths.contains(depth) { return "--depth (depth) \(depth) is not one of \(ResNet.depths)" }
    if width < 1 { return "--width (width) must be at least 1, got \(width)" }
    if projection < 1 { return "projection must be at least 1, got \(projection)" }
    if modelsPerBatch < 2 || tilesPerClass < 2 {
      return
        "--P (modelsPerBatch) \(modelsPerBatch) and --K (tilesPerClass) \(tilesPerClass) must be at least 2 (triplets need both)"
    }
    if tilesPerClass > tilesPerModel {
      return "--K (tilesPerClass) \(tilesPerClass) exceeds --tiles-per-model (tilesPerModel) \(tilesPerModel)"
    }
    if let m = spectraPerInput {
      guard (1...64).contains(m) else {
        return "--spectra-per-input (spectraPerInput) \(m) must lie in 1...64"
      }
      guard tilesPerClass * m <= tilesPerModel else {
        return "--K (tilesPerClass) \(tilesPerClass) × --spectra-per-input \(m) tiles exceed --tiles-per-model "
          + "(tilesPerModel) \(tilesPerModel)"
      }
      guard m == 1 || (virtualGenerators ?? 0) == 0 else {
        return "--spectra-per-input above 1 is not implemented with --virtual generators"
      }
    }
    if steps < 1 { return "--steps (steps) must be at least 1, got \(steps)" }
    if !(learningRate > 0) || !learningRate.isFinite {
      return "--lr (the learning rate) must be positive and finite, got \(learningRate)"
    }
    if width > 1024 || projection > 4096 {
      return "--width (width) \(width) or projection \(projection) is beyond any usable network (at most 1024 and 4096)"
    }
    if !(weightDecay >= 0) || !(clipNorm > 0) || !(margin >= 0)
      || ![weightDecay, clipNorm, margin].allSatisfy(\.isFinite)
    {
      return "weight decay and margin must be finite and not negative, the clip norm finite and positive"
    }
    // A fraction above 1 would draw more architectures than there are; no held-out tile leaves 1:N empty.
    if !(0...1).contains(heldOutFraction) { return "held-out fraction \(heldOutFraction) must lie in [0, 1]" }
    if validationTilesPerModel < 1 { return "validation tiles per model must be at least 1" }
    if !SpectralInput.standardisations.contains(standardisation) {
      return "--standardise (standardisation) '\(standardisation)' is not one of \(SpectralInput.standardisations)"
    }
    if let problem = augmentation.problem { return problem }
    if let g = batchNormGroups, g < 1 || (modelsPerBatch * tilesPerClass) % g != 0 {
      return "--bn-groups (batchNormGroups) \(g) must be at least 1 and divide the batch of P × K = "
        + "\(modelsPerBatch) × \(tilesPerClass) = \(modelsPerBatch * tilesPerClass) tiles"
    }
    if let m = cosineMargin, !(0..<1).contains(m) {
      return "--cosine-margin (cosineMargin) \(m) must lie in [0, 1): a cosine is at most 1"
    }
    if let s = cosineScale {
      guard cosineMargin != nil else { return "--cosine-scale (cosineScale) needs --cosine-margin (cosineMargin)" }
      guard s > 0 && s <= 256 else { return "--cosine-scale (cosineScale) \(s) must lie in (0, 256]" }
    }
    if let q = virtualGenerators, q < 0 || q > modelsPerBatch || modelsPerBatch - q == 1 {
      return "--virtual (virtualGenerators) \(q) must lie in 0...P = \(modelsPerBatch) and leave no pool model or "
        + "at least 2 (the batch's pool models are drawn as a P × K batch of their own)"
    }
    return nil
  }
}

/// Fingerprinted tiles of every pool model, kept as 8-bit images (what a generated image saved to a file
/// holds); spectra are taken batch by batch, after the augmentations.
public struct FingerprintedSet {
  /// Model keys, one class each, in pool order.
  public var keys: [String]
  /// Architecture id of each class.
  public var architectures: [String]
  /// Tiles per class.
  public let perClass: Int
  /// Tile side.
  public let size: Int
  /// All tiles, class-major: `keys.count × perClass × 3 × size × size` bytes, planar RGB.
  public var tiles: [UInt8]

  /// A set from tiles already in memory (`keys.count × perClass × 3 × size × size` bytes).
  public init(keys: [String], architectures: [String], perClass: Int, size: Int, tiles: [UInt8]) {
    precondition(
      keys.count == architectures.count && tiles.count == keys.count * perClass * 3 * size * size,
      "FingerprintedSet: \(tiles.count) bytes for \(keys.count) classes × \(perClass) tiles of \(size) px")
    self.keys = keys
    self.architectures = architectures
    self.perClass = perClass
    self.size = size
    self.tiles = tiles
  }

  /// Runs `perModel` tiles (a seeded choice per model) through every model of `store`, quantised to
  /// 8 bits. `progress(done, total)` is called after each model. With `part` (index, count) only the
  /// models i with i mod count = index are run (the others' tiles stay 0): one process's share of
  /// ``init(store:tiles:perModel:seed:group:progress:)``.
  public init(
    store: PoolStore, tiles source: TileSet, perModel: Int, seed: UInt64, part: (index: Int, count: Int) = (0, 1),
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws {
    precondition(
      part.count >= 1 && (0..<part.count).contains(part.index), "FingerprintedSet: part \(part.index) of \(part.count)")
    guard perModel >= 1, perModel <= source.count else {
      throw FingerprintedSetError.tooFewTiles(perModel: perModel, available: source.count)
    }
    keys = store.manifest.models.map(\.key)
    architectures = store.manifest.models.map(\.architecture)
    perClass = perModel
    size = source.size
    let per = perModel * 3 * size * size
    tiles = [UInt8](repeating: 0, count: keys.count * per)
    let mine = store.manifest.models.indices.filter { $0 % part.count == part.index }
    for (done, i) in mine.enumerated() {
      let model = try store.load(store.manifest.models[i])
      var rng = RNG(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
      var order = Array(0..<source.count)
      for j in 0..<perModel { order.swapAt(j, j + rng.int(source.count - j)) }
      let images = model.fingerprint(source.unitBatch(Array(order.prefix(perModel))))
      withExtendedLifetime(images) { store8(images.pointer, count: per, at: i * per) }
      progress(done + 1, mine.count)
    }
  }

  /// The same set, fingerprinted by the processes of `group` together: model i on process i mod R,
  /// then the tiles exchanged, one model per process at a time (an all-gather of R models' bytes), so
  /// every process ends with the whole set. A model's tiles depend only on the model, the tiles and the
  /// seed, so the set is the one a single process makes. `progress` counts this process's models.
  public init(
    store: PoolStore, tiles source: TileSet, perModel: Int, seed: UInt64, group: ProcessGroup,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws {
    try self.init(
      store: store, tiles: source, perModel: perModel, seed: seed, part: (group.rank, group.size), progress: progress)
    let r = group.size
    guard r > 1 else { return }
    let per = perModel * 3 * size * size
    let models = keys.count
    for round in 0..<((models + r - 1) / r) {
      let i = round * r + group.rank
      let local = i < models ? Array(tiles[(i * per)..<((i + 1) * per)]) : [UInt8](repeating: 0, count: per)
      let all = group.allGather(local)
      for k in 0..<r where round * r + k < models {
        let j = round * r + k
        tiles.replaceSubrange((j * per)..<((j + 1) * per), with: all[(k * per)..<((k + 1) * per)])
      }
    }
  }

  /// Tiles from a folder-per-model set of images, one class per subfolder: fingerprinted tiles saved
  /// as files (exactly `size`×`size`, taken in file order) or real generators' images (larger: seeded
  /// random `size` crops, cycling over the images; smaller ones are scaled up first). A class is the
  /// architecture named before the first `_` of its folder name when that is an architecture id, else
  /// the folder name. Files that fail to decode are reported through `skipped` and left out, and so are
  /// images of another size when `exactSize` (saved tiles); a folder with no usable image is an error.
  public init(
    folders root: URL, perModel: Int, size: Int, seed: UInt64, exactSize: Bool = false,
    isArchitecture: (String) -> Bool = { _ in false }, skipped: (String) -> Void = { _ in }
  ) throws {
    let models = try ImageFiles.models(in: root)
    guard !models.isEmpty else { throw FingerprintedSetError.noModels(root.path) }
    keys = models.map(\.name)
    architectures = models.map { m in
      let head = String(m.name.prefix { $0 != "_" })
      return isArchitecture(head) ? head : m.name
    }
    perClass = perModel
    self.size = size
    let per = perModel * 3 * size * size
    tiles = [UInt8](repeating: 0, count: models.count * per)
    var input = SpectralInput()
    input.size = size
    let decoder = ImageDecoder()
    for (i, model) in models.enumerated() {
      let decoded = decoder.decodeAll(model.files)
      for f in decoded.failures { skipped("\(f.error)") }
      let usable = decoded.images.filter { e in
        guard exactSize, e.image.width != size || e.image.height != size else { return true }
        skipped("\(e.url.path): \(e.image.width)×\(e.image.height), not a \(size)×\(size) tile")
        return false
      }
      let images = usable.map { e -> Image in
        min(e.image.width, e.image.height) < size ? input.windows(e.image, grid: 1)[0] : e.image
      }
      guard !images.isEmpty else { throw FingerprintedSetError.noImages(model.name) }
      var rng = RNG(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
      for j in 0..<perModel {
        var img = images[j % images.count]
        if img.width != size || img.height != size {
          img = img.cropped(
            x: rng.int(img.width - size + 1), y: rng.int(img.height - size + 1), width: size, height: size)
        }
        img.pixels.withUnsafeBufferPointer {
          store8($0.baseAddress!, count: 3 * size * size, at: i * per + j * 3 * size * size)
        }
      }
    }
  }

  private mutating func store8(_ p: UnsafePointer<Float>, count: Int, at offset: Int) {
    tiles.withUnsafeMutableBufferPointer { t in
      for j in 0..<count { t[offset + j] = unitToByte(p[j]) }
    }
  }

  /// Adds the classes of `other` (same tiles per class and size) after these.
  public mutating func append(_ other: FingerprintedSet) {
    precondition(
      other.perClass == perClass && other.size == size,
      "FingerprintedSet.append: \(other.perClass) tiles of \(other.size) px to \(perClass) of \(size) px")
    keys += other.keys
    architectures += other.architectures
    tiles += other.tiles
  }

  /// Tile `t` of class `c` as an image in [0, 1].
  public func image(_ c: Int, _ t: Int) -> Image {
    let per = 3 * size * size
    let base = (c * perClass + t) * per
    return Image(width: size, height: size, pixels: tiles[base..<(base + per)].map { Float($0) / 255 })
  }

  /// Per-channel mean and standard deviation of the spectra of the tiles of `classes`.
  public func channelStatistics(_ classes: [Int], input: SpectralInput) -> (mean: [Float], std: [Float]) {
    statistics(classes, input: input, perFrequency: false)
  }

  /// Mean and standard deviation of every frequency bin of every channel (3·size² values each) of the
  /// unaugmented training spectra; a bin's std is floored at 1e-3 of the median bin std, so that a bin
  /// constant over the set (none in practice) cannot divide by zero.
  public func frequencyStatistics(_ classes: [Int], input: SpectralInput) -> (mean: [Float], std: [Float]) {
    statistics(classes, input: input, perFrequency: true)
  }

  /// One pass over the training spectra: per-channel sums always, per-bin sums when `perFrequency`.
  private func statistics(_ classes: [Int], input: SpectralInput, perFrequency: Bool) -> (mean: [Float], std: [Float]) {
    let plane = size * size
    let values = 3 * plane
    var sum = [Double](repeating: 0, count: 3)
    var sq = [Double](repeating: 0, count: 3)
    var binSum = [Double](repeating: 0, count: perFrequency ? values : 0)
    var binSq = binSum
    let items = classes.flatMap { c in (0..<perClass).map { (c, $0) } }
    for start in stride(from: 0, to: items.count, by: 256) {
      let chunk = Array(items[start..<min(items.count, start + 256)])
      let spectra = Tensor(uninitialized: [chunk.count, 3, size, size])
      input.rawSpectra(Image.batch(chunk.map { image($0.0, $0.1) }), into: spectra.pointer)
      for i in 0..<chunk.count {
        for ch in 0..<3 {
          let p = spectra.pointer + (i * 3 + ch) * plane
          var a: Double = 0
          var b: Double = 0
          for j in 0..<plane {
            a += Double(p[j])
            b += Double(p[j]) * Double(p[j])
          }
          sum[ch] += a
          sq[ch] += b
        }
        if perFrequency {
          let p = spectra.pointer + i * values
          for j in 0..<values {
            binSum[j] += Double(p[j])
            binSq[j] += Double(p[j]) * Double(p[j])
          }
        }
      }
    }
    if perFrequency {
      let n = Double(items.count)
      var std = (0..<values).map { max((binSq[$0] - binSum[$0] * binSum[$0] / n) / max(n - 1, 1), 0).squareRoot() }
      let floor = 1e-3 * max(std.sorted()[values / 2], 1e-12)
      std = std.map { max($0, floor) }
      return (binSum.map { Float($0 / n) }, std.map { Float($0) })
    }
    let n = Double(classes.count * perClass * plane)
    return (sum.map { Float($0 / n) }, (0..<3).map { Float(((sq[$0] - sum[$0] * sum[$0] / n) / (n - 1)).squareRoot()) })
  }

  /// Tiles (class, index) as a standardised batch of spectra, each tile augmented first when
  /// `augmentation` is given (`rng` draws its choices).
  public func batch(
    _ items: [(Int, Int)], input: SpectralInput, augmentation: Augmentation? = nil, rng: inout RNG
  ) -> Tensor {
    let draws = augmentation.map { a in items.map { _ in a.draw(width: size, height: size, rng: &rng) } }
    return batch(items, input: input, augmentation: augmentation, draws: draws)
  }

  /// Tiles (class, index) as a standardised batch of spectra, tile i perturbed as `draws[i]` says when
  /// given (drawn with ``Augmentation/draw(width:height:rng:)``).
  public func batch(
    _ items: [(Int, Int)], input: SpectralInput, augmentation: Augmentation?, draws: [AugmentationDraw]?,
    average m: Int = 1
  ) -> Tensor {
    precondition(
      draws.map { $0.count == items.count } ?? true,
      "FingerprintedSet.batch: \(draws?.count ?? 0) augmentation draws for \(items.count) tiles")
    return Self.spectra(
      items.map { image($0.0, $0.1) }, input: input, augmentation: augmentation, draws: draws, average: m)
  }

  /// Tiles as a standardised batch of spectra, tile i perturbed as `draws[i]` says when given; with
  /// `average` M > 1, each consecutive M tiles' raw spectra are averaged into one ([N / M, 3, size, size]).
  public static func spectra(
    _ images: [Image], input: SpectralInput, augmentation: Augmentation?, draws: [AugmentationDraw]?,
    average m: Int = 1
  ) -> Tensor {
    precondition(
      draws.map { $0.count == images.count } ?? true,
      "FingerprintedSet.spectra: \(draws?.count ?? 0) augmentation draws for \(images.count) tiles")
    var images = images
    if let augmentation, let draws { images = zip(images, draws).map { augmentation.apply($1, to: $0) } }
    return input(Image.batch(images), averaging: m)
  }

  /// Tiles (class, index) as a standardised batch of spectra, not augmented.
  public func batch(_ items: [(Int, Int)], input: SpectralInput) -> Tensor {
    var rng = RNG(seed: 0)
    return batch(items, input: input, augmentation: nil, rng: &rng)
  }
}

/// Training-time perturbations of a fingerprinted tile before its spectrum is taken, so the extractor
/// sees what sharing does to images: a random resized crop, a rescale, a light Gaussian blur and a JPEG
/// round trip, each with a probability, in that order (resizing and filtering happen before an upload
/// re-encodes). A perturbation whose probability is 0 draws no random numbers, so adding one never
/// changes the batches of a configuration that does not use it.
public struct Augmentation: Codable, Equatable, Sendable {
  /// Probability of a JPEG round trip, and its quality range (uniform, inclusive).
  public var jpegProbability = 0.0
  public var jpegQualityMin = 65
  public var jpegQualityMax = 100
  /// Probability of a random resized crop: an area fraction in [cropAreaMin, 1] and an aspect ratio
  /// in [3/4, 4/3] (log-uniform), resized back to the tile size (bilinear).
  public var cropProbability = 0.0
  public var cropAreaMin = 0.5
  /// Probability of a rescale by a factor drawn log-uniformly from [resizeScaleMin, resizeScaleMax] with
  /// a resampler drawn from area, bilinear and bicubic: a factor above 1 enlarges the tile and keeps a
  /// random tile-size window (an upscaled image), one below 1 shrinks it and scales it back (the detail a
  /// downscale removes, at the tile's size).
  public var resizeProbability = 0.0
  public var resizeScaleMin = 0.5
  public var resizeScaleMax = 2.0
  /// Probability of a Gaussian blur of σ uniform in [0.3, blurSigmaMax] pixels (reflect padding).
  public var blurProbability = 0.0
  public var blurSigmaMax = 1.0
  /// Probability that a JPEG round trip keeps full-resolution chroma (4:4:4) instead of 4:2:0.
  public var jpegChroma444Probability = 0.0

  public init() {}

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = Augmentation()
    jpegProbability = try c.decodeIfPresent(Double.self, forKey: .jpegProbability) ?? d.jpegProbability
    jpegQualityMin = try c.decodeIfPresent(Int.self, forKey: .jpegQualityMin) ?? d.jpegQualityMin
    jpegQualityMax = try c.decodeIfPresent(Int.self, forKey: .jpegQualityMax) ?? d.jpegQualityMax
    cropProbability = try c.decodeIfPresent(Double.self, forKey: .cropProbability) ?? d.cropProbability
    cropAreaMin = try c.decodeIfPresent(Double.self, forKey: .cropAreaMin) ?? d.cropAreaMin
    resizeProbability = try c.decodeIfPresent(Double.self, forKey: .resizeProbability) ?? d.resizeProbability
    resizeScaleMin = try c.decodeIfPresent(Double.self, forKey: .resizeScaleMin) ?? d.resizeScaleMin
    resizeScaleMax = try c.decodeIfPresent(Double.self, forKey: .resizeScaleMax) ?? d.resizeScaleMax
    blurProbability = try c.decodeIfPresent(Double.self, forKey: .blurProbability) ?? d.blurProbability
    blurSigmaMax = try c.decodeIfPresent(Double.self, forKey: .blurSigmaMax) ?? d.blurSigmaMax
    jpegChroma444Probability =
      try c.decodeIfPresent(Double.self, forKey: .jpegChroma444Probability) ?? d.jpegChroma444Probability
  }

  /// Whether any augmentation can happen.
  public var isActive: Bool {
    jpegProbability > 0 || cropProbability > 0 || resizeProbability > 0 || blurProbability > 0
  }

  /// Why these settings cannot be used, or nil.
  public var problem: String? {
    let probabilities = [
      jpegProbability, cropProbability, resizeProbability, blurProbability, jpegChroma444Probability,
    ]
    if !probabilities.allSatisfy({ (0...1).contains($0) }) {
      return "augmentation probabilities (--jpeg-prob, --crop-prob, --resize-prob, --blur-prob, --jpeg-444-prob) "
        + "must lie in [0, 1], got \(probabilities)"
    }
    if jpegQualityMin < 1 || jpegQualityMax > 100 || jpegQualityMin > jpegQualityMax {
      return "--jpeg-quality \(jpegQualityMin)-\(jpegQualityMax) (augmentation) must be LOW-HIGH within 1...100"
    }
    if !(0.05...1).contains(cropAreaMin) {
      return "--crop-area-min (augmentation) \(cropAreaMin) must lie in [0.05, 1]"
    }
    if !(resizeScaleMin >= 0.25 && resizeScaleMax <= 4 && resizeScaleMin <= resizeScaleMax) {
      return "--resize-scale \(resizeScaleMin)-\(resizeScaleMax) (augmentation) must be LOW-HIGH within 0.25...4"
    }
    if !(0.3...3).contains(blurSigmaMax) {
      return "--blur-sigma-max (augmentation) \(blurSigmaMax) must lie in [0.3, 3]"
    }
    return nil
  }

  /// `image` perturbed; a failed JPEG round trip (it cannot fail on a valid image) leaves it as is.
  public func apply(_ image: Image, rng: inout RNG) -> Image {
    apply(draw(width: image.width, height: image.height, rng: &rng), to: image)
  }

  /// The random choices for one tile of `width` × `height`, in the order ``apply(_:rng:)`` makes them.
  /// They depend on the tile's size only, never on its pixels, so a whole batch's choices can be drawn
  /// from one stream before any tile is touched (data-parallel processes each perturb their part).
  public func draw(width: Int, height: Int, rng: inout RNG) -> AugmentationDraw {
    var d = AugmentationDraw()
    let side = width
    if Double(rng.uniform()) < cropProbability {
      let area = cropAreaMin + (1 - cropAreaMin) * Double(rng.uniform())
      let ratio = exp(log(3.0 / 4) + (log(4.0 / 3) - log(3.0 / 4)) * Double(rng.uniform()))
      let w = min(side, max(8, Int((Double(side * side) * area * ratio).squareRoot().rounded())))
      let h = min(height, max(8, Int((Double(side * side) * area / ratio).squareRoot().rounded())))
      let x = rng.int(width - w + 1)
      let y = rng.int(height - h + 1)
      d.crop = .init(x: x, y: y, width: w, height: h)
    }
    if resizeProbability > 0, Double(rng.uniform()) < resizeProbability {
      let scale = exp(log(resizeScaleMin) + (log(resizeScaleMax) - log(resizeScaleMin)) * Double(rng.uniform()))
      let filter = [ResizeFilter.area, .bilinear, .bicubic][rng.int(3)]
      // A crop is resized back to the tile's size, so the rescale always starts from width × height.
      let sw = max(4, Int((Double(width) * scale).rounded()))
      let sh = max(4, Int((Double(height) * scale).rounded()))
      var r = AugmentationDraw.Rescale(width: sw, height: sh, filter: filter)
      if sw >= width && sh >= height { (r.cropX, r.cropY) = (rng.int(sw - width + 1), rng.int(sh - height + 1)) }
      d.rescale = r
    }
    if blurProbability > 0, Double(rng.uniform()) < blurProbability {
      d.blurSigma = 0.3 + (blurSigmaMax - 0.3) * Double(rng.uniform())
    }
    if Double(rng.uniform()) < jpegProbability {
      let q = jpegQualityMin + rng.int(jpegQualityMax - jpegQualityMin + 1)
      let full = jpegChroma444Probability > 0 && Double(rng.uniform()) < jpegChroma444Probability
      d.jpeg = .init(quality: q, chroma444: full)
    }
    return d
  }

  /// `image` perturbed as `draw` says (drawn for its size by ``draw(width:height:rng:)``).
  public func apply(_ draw: AugmentationDraw, to image: Image) -> Image {
    var img = image
    if let c = draw.crop {
      img = img.cropped(x: c.x, y: c.y, width: c.width, height: c.height).resized(
        width: image.width, height: image.height, filter: .bilinear
      ).quantized()
    }
    if let r = draw.rescale {
      let (w, h) = (img.width, img.height)
      let scaled = img.resized(width: r.width, height: r.height, filter: r.filter).quantized()
      if let x = r.cropX, let y = r.cropY {
        img = scaled.cropped(x: x, y: y, width: w, height: h)
      } else {
        img = scaled.resized(width: w, height: h, filter: r.filter).quantized()
      }
    }
    if let sigma = draw.blurSigma { img = Self.gaussianBlur(img, sigma: sigma).quantized() }
    if let j = draw.jpeg, let out = try? img.jpegRecompressed(quality: j.quality, subsampling444: j.chroma444) {
      img = out
    }
    return img
  }

  /// Separable Gaussian blur (radius ⌈3σ⌉, reflect padding, kernel normalised to sum 1).
  public static func gaussianBlur(_ image: Image, sigma: Double) -> Image {
    let r = max(1, Int((3 * sigma).rounded(.up)))
    var k = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let total = k.reduce(0, +)
    k = k.map { $0 / total }
    let (w, h) = (image.width, image.height)
    func reflect(_ i: Int, _ n: Int) -> Int {
      guard n > 1 else { return 0 }
      var i = i
      while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
      return i
    }
    var tmp = [Float](repeating: 0, count: image.pixels.count)
    var out = tmp
    for c in 0..<3 {
      let base = c * w * h
      for y in 0..<h {
        for x in 0..<w {
          var s = 0.0
          for (t, kv) in k.enumerated() { s += kv * Double(image.pixels[base + y * w + reflect(x + t - r, w)]) }
          tmp[base + y * w + x] = Float(s)
        }
      }
      for y in 0..<h {
        for x in 0..<w {
          var s = 0.0
          for (t, kv) in k.enumerated() { s += kv * Double(tmp[base + reflect(y + t - r, h) * w + x]) }
          out[base + y * w + x] = Float(s)
        }
      }
    }
    return Image(width: w, height: h, pixels: out)
  }
}

/// One tile's augmentation choices (``Augmentation/draw(width:height:rng:)``): nil where a perturbation
/// does not happen.
public struct AugmentationDraw: Equatable, Sendable {
  /// The window of a random resized crop.
  public struct Crop: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
  }
  /// A rescale to width × height, then a tile-size window at (cropX, cropY) when it enlarged the tile,
  /// else a resize back.
  public struct Rescale: Equatable, Sendable {
    public var width: Int, height: Int
    public var filter: ResizeFilter
    public var cropX: Int? = nil, cropY: Int? = nil
  }
  /// A JPEG round trip.
  public struct JPEG: Equatable, Sendable {
    public var quality: Int
    public var chroma444: Bool
  }
  public var crop: Crop? = nil
  public var rescale: Rescale? = nil
  public var blurSigma: Double? = nil
  public var jpeg: JPEG? = nil

  public init() {}
}

/// Why a folder-per-model set could not become a fingerprinted set.
public enum FingerprintedSetError: Error, CustomStringConvertible, Equatable {
  case noModels(String)
  case noImages(String)
  /// More tiles per model asked for than the tile set holds (or fewer than one).
  case tooFewTiles(perModel: Int, available: Int)

  public var description: String {
    switch self {
    case .noModels(let p): return "\(p): no model folders with images (expected one subfolder of images per model)"
    case .noImages(let m): return "model folder '\(m)': no image could be decoded (see the skipped files above)"
    case .tooFewTiles(let perModel, let available):
      return "\(perModel) tiles per model asked for, but the tile set holds \(available); "
        + "give --tiles-per-model between 1 and \(available)"
    }
  }
}

/// P × K batches: P distinct classes, K distinct tiles of each, so every anchor of the batch-hard
/// triplet loss has a positive (K ≥ 2) and a negative (P ≥ 2).
public struct PKSampler {
  /// Classes to draw from (indices into the set).
  public let classes: [Int]
  /// Tiles per class in the set.
  public let perClass: Int
  /// Classes per batch (P) and tiles per class (K).
  public let p: Int
  public let k: Int
  /// Seed; batch `step` depends only on it and the step, so a resumed run draws the same batches.
  public let seed: UInt64

  public init(classes: [Int], perClass: Int, p: Int, k: Int, seed: UInt64) {
    precondition(p >= 2 && p <= classes.count, "PKSampler: P = \(p) needs 2 ≤ P ≤ \(classes.count) classes")
    precondition(k >= 2 && k <= perClass, "PKSampler: K = \(k) needs 2 ≤ K ≤ \(perClass) tiles per class")
    self.classes = classes
    self.perClass = perClass
    self.p = p
    self.k = k
    self.seed = seed
  }

  /// Batch `step` as (class, tile) pairs, class by class; labels are the positions in `classes`.
  public func batch(step: Int) -> (items: [(Int, Int)], labels: [Int]) {
    var rng = RNG(seed: seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
    var cls = Array(classes.indices)
    for j in 0..<p { cls.swapAt(j, j + rng.int(cls.count - j)) }
    var items: [(Int, Int)] = []
    var labels: [Int] = []
    for c in cls.prefix(p) {
      var tiles = Array(0..<perClass)
      for j in 0..<k { tiles.swapAt(j, j + rng.int(perClass - j)) }
      for t in tiles.prefix(k) {
        items.append((classes[c], t))
        labels.append(c)
      }
    }
    return (items, labels)
  }
}
