import Foundation
import Imaging
import NN
import Tensor

/// A learned residual extractor: a DnCNN trained by ModelPrint on the real-photo pool to predict
/// additive Gaussian noise. Applied to a generated image, its prediction is the image's noise residual
/// (the paper's denoiser-based residual, §III-C/D).
///
/// Sendable because it never changes after `init`: the network is in evaluation mode, so a forward pass
/// reads its weights and running statistics only, as the extractor's network is shared by its lanes.
public final class LearnedDenoiser: ResidualExtractor, @unchecked Sendable {
  /// The network; it predicts the noise of its input.
  public let network: DnCNN

  public init(network: DnCNN) {
    self.network = network
    network.eval()
  }

  /// The predicted noise residuals of `images` [N, 3, H, W] in [0, 1].
  public func residual(_ images: Tensor) -> Tensor {
    withNoGrad { network(images).toLayout(.plain, differentiable: false) }
  }

  /// Images with the predicted noise removed.
  public func denoise(_ images: Tensor) -> Tensor {
    withNoGrad { images.toLayout(.plain, differentiable: false) - residual(images) }
  }

  /// The metadata key of the architecture and of the settings it was trained with.
  public static let architectureKey = "architecture"
  static let architecturePrefix = "dncnn"

  /// Loads weights saved by ``save(to:config:)``; the depth and width come from the file.
  public static func load(from url: URL) throws -> LearnedDenoiser {
    let file = try Safetensors.read(url)
    return try build(architecture: file.metadata[architectureKey], tensors: file.tensors, name: url.path)
  }

  /// `dncnn-DEPTH-WIDTH`, as the metadata of a saved denoiser names it.
  public var architecture: String { "\(Self.architecturePrefix)-\(network.depth)-\(network.width)" }

  /// The deepest and widest DnCNN a file may describe (the paper's is 17 × 64), so that damaged metadata
  /// is refused before it allocates.
  public static let maxDepth = 64
  public static let maxWidth = 512

  /// A denoiser from its architecture string and weights (a denoiser file's, or those an extractor
  /// checkpoint embeds); `name` identifies the file in errors.
  ///
  /// - Throws: ``SafetensorsError/corrupted(path:reason:)`` when the architecture is not
  ///   `dncnn-DEPTH-WIDTH` within the limits or the weights do not fit it.
  public static func build(architecture arch: String?, tensors: [String: Tensor], name: String) throws
    -> LearnedDenoiser
  {
    guard let arch, arch.hasPrefix(architecturePrefix + "-"),
      case let parts = arch.split(separator: "-"), parts.count == 3, let depth = Int(parts[1]),
      let width = Int(parts[2]), (3...maxDepth).contains(depth), (1...maxWidth).contains(width)
    else {
      throw SafetensorsError.corrupted(
        path: name,
        reason: "not a denoiser (architecture '\(arch ?? "missing")' should be dncnn-DEPTH-WIDTH, depth 3–"
          + "\(maxDepth), width 1–\(maxWidth))")
    }
    // The middle convolutions alone hold (depth − 2)·9·width² weights: fewer floats cannot be this
    // network, and refusing them keeps what a damaged file makes us allocate near its own size.
    let floats = tensors.values.reduce(0) { $0 + $1.count }
    guard floats >= (depth - 2) * 9 * width * width else {
      throw SafetensorsError.corrupted(
        path: name, reason: "\(floats) weights are too few for a DnCNN of depth \(depth) and width \(width)")
    }
    var rng = RNG(seed: 0)
    let net = DnCNN(depth: depth, width: width, rng: &rng)
    do { try net.loadStateDict(tensors) } catch let e as StateDictError {
      throw SafetensorsError.corrupted(path: name, reason: e.description)
    }
    return LearnedDenoiser(network: net)
  }

  /// Saves the weights with the architecture and training settings in the metadata.
  public func save(to url: URL, config: DenoiserTrainingConfig) throws {
    let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
    try network.save(
      to: url,
      metadata: [
        Self.architectureKey: architecture, "config": json,
        "seed": String(config.seed),
      ])
  }
}

/// How ``DenoiserTrainer`` trains a ``LearnedDenoiser``.
public struct DenoiserTrainingConfig: Codable, Sendable, Equatable {
  /// DnCNN depth (the paper's 17) and width (64).
  public var depth = 17
  public var width = 64
  /// Training tile side and batch size.
  public var tile = 64
  public var batch = 16
  /// Optimizer steps, Adam learning rate (warm-up then cosine decay).
  public var steps = 2000
  public var learningRate: Float = 1e-3
  /// Noise standard deviations are drawn uniformly from this range (in 8-bit grey levels, /255), a
  /// blind-denoising range as DnCNN-B's, so that the network learns to separate noise from texture.
  public var sigmaMin: Float = 1
  public var sigmaMax: Float = 25
  /// Training tiles drawn from the photos, and held-out tiles for the PSNR report.
  public var trainTiles = 4000
  public var validationTiles = 256
  public var seed: UInt64 = 0
  /// The share of training tiles that go through a JPEG round trip (quality uniform in
  /// `jpegQualityMin...jpegQualityMax`, 4:2:0) after the noise is added. Such a tile's target is what of
  /// the noise survives the codec, JPEG(clean + noise) − JPEG(clean), not the noise itself: the network
  /// learns that block and ringing artifacts are content, so that on a re-compressed image its residual
  /// keeps the source's surviving noise instead of the codec's grid. 0 trains the plain Gaussian denoiser.
  public var jpegProbability: Float = 0
  public var jpegQualityMin = 60
  public var jpegQualityMax = 95
  /// How the training loss weighs the noise levels of a batch.
  public var loss = DenoiserLoss.mse

  public init() {}

  enum CodingKeys: String, CodingKey {
    case depth, width, tile, batch, steps, learningRate, sigmaMin, sigmaMax, trainTiles, validationTiles, seed
    case jpegProbability, jpegQualityMin, jpegQualityMax, loss
  }

  /// Absent keys take their defaults, so the settings saved with denoisers trained before a setting
  /// existed still read (as the default, which is how they were trained).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = DenoiserTrainingConfig()
    depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
    width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
    tile = try c.decodeIfPresent(Int.self, forKey: .tile) ?? d.tile
    batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? d.batch
    steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
    sigmaMin = try c.decodeIfPresent(Float.self, forKey: .sigmaMin) ?? d.sigmaMin
    sigmaMax = try c.decodeIfPresent(Float.self, forKey: .sigmaMax) ?? d.sigmaMax
    trainTiles = try c.decodeIfPresent(Int.self, forKey: .trainTiles) ?? d.trainTiles
    validationTiles = try c.decodeIfPresent(Int.self, forKey: .validationTiles) ?? d.validationTiles
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    jpegProbability = try c.decodeIfPresent(Float.self, forKey: .jpegProbability) ?? d.jpegProbability
    jpegQualityMin = try c.decodeIfPresent(Int.self, forKey: .jpegQualityMin) ?? d.jpegQualityMin
    jpegQualityMax = try c.decodeIfPresent(Int.self, forKey: .jpegQualityMax) ?? d.jpegQualityMax
    loss = try c.decodeIfPresent(DenoiserLoss.self, forKey: .loss) ?? d.loss
  }

  /// Why these settings cannot train, named as `modelprint train-denoiser`'s flags; nil when they can.
  public var problem: String? {
    if depth < 3 {
      return "depth must be at least 3 (a first and a last convolution around depth − 2 layers), got \(depth)"
    }
    if width < 1 { return "width must be at least 1, got \(width)" }
    if tile < 8 || tile > 1024 { return "tile must be 8 to 1024 pixels, got \(tile)" }
    if batch < 1 { return "batch must be at least 1, got \(batch)" }
    if steps < 1 { return "steps must be at least 1, got \(steps)" }
    if !(learningRate > 0) || !learningRate.isFinite { return "lr must be a positive number, got \(learningRate)" }
    if !(sigmaMin >= 0) || !(sigmaMax >= sigmaMin) || !sigmaMax.isFinite {
      return "sigma-min and sigma-max must satisfy 0 ≤ sigma-min ≤ sigma-max, got \(sigmaMin) and \(sigmaMax)"
    }
    if loss == .levelNormalized && !(sigmaMin > 0) {
      return "sigma-min must be above 0 with --loss level-normalized, which divides by each tile's noise level, "
        + "got \(sigmaMin)"
    }
    if trainTiles < 1 || validationTiles < 1 { return "trainTiles and validationTiles must be at least 1" }
    if !(0...1).contains(jpegProbability) { return "jpeg-prob must be in 0...1, got \(jpegProbability)" }
    if !(1...100).contains(jpegQualityMin) || !(jpegQualityMin...100).contains(jpegQualityMax) {
      return "jpeg-quality must be MIN-MAX with 1 ≤ MIN ≤ MAX ≤ 100, got \(jpegQualityMin)-\(jpegQualityMax)"
    }
    return nil
  }
}

/// The training loss of a denoiser.
public enum DenoiserLoss: String, Codable, Sendable, CaseIterable {
  /// The mean squared error over the batch: a tile's share grows with its noise variance, so the top of
  /// the noise range dominates what the network learns.
  case mse
  /// Each tile's squared error divided by its noise variance σ² (the weights scaled to average 1 over
  /// the batch): every noise level counts alike, as a PSNR gain does, so the network also learns the
  /// lowest levels, where generators' fingerprints lie.
  case levelNormalized = "level-normalized"
}

/// Why a denoiser could not be trained.
public enum DenoiserTrainingError: Error, CustomStringConvertible, Equatable {
  /// The settings are unusable (``DenoiserTrainingConfig/problem``).
  case invalidConfig(String)
  /// No photo has a textured tile of the training size (all flat, or all smaller than a tile).
  case noTexturedTiles(photos: Int, tile: Int)

  public var description: String {
    switch self {
    case .invalidConfig(let problem): return "denoiser settings: \(problem)"
    case .noTexturedTiles(let photos, let tile):
      return "no textured \(tile)×\(tile) tiles in \(photos) photo(s): they are flat or smaller than a tile; "
        + "give real photographs (e.g. data/photos) or a smaller tile"
    }
  }
}

/// Trains a DnCNN on photo tiles with synthetic Gaussian noise (residual learning).
public struct DenoiserTrainer {
  public var config: DenoiserTrainingConfig

  public init(config: DenoiserTrainingConfig) { self.config = config }

  /// The PSNR (dB) of noisy and of denoised held-out tiles at noise level `sigma` (/255).
  public struct Evaluation: Codable, Sendable {
    public var sigma: Float
    public var noisyPSNR: Double
    public var denoisedPSNR: Double
    public var gain: Double { denoisedPSNR - noisyPSNR }
  }

  /// Trains on tiles from `photos`; `progress(step, loss)` is called every step. Every tenth photo
  /// (with at least ten) is held out and gives the validation tiles (from all photos when the held-out
  /// ones have no textured tile).
  /// - Throws: ``DenoiserTrainingError`` for unusable settings or photos without texture.
  public func train(
    photos: [Image], resume: DnCNN? = nil, startStep: Int = 0, progress: (Int, Float) -> Void = { _, _ in }
  ) throws -> (LearnedDenoiser, validation: [Image]) {
    let (training, validation) = try tiles(from: photos)
    var initRNG = RNG(seed: config.seed &+ 1)
    let net = resume ?? DnCNN(depth: config.depth, width: config.width, rng: &initRNG)
    net.train()
    let opt = Adam(net.parameters, learningRate: config.learningRate)
    let schedule = WarmupCosine(
      base: config.learningRate, warmupSteps: min(100, config.steps / 10), totalSteps: config.steps,
      minimum: config.learningRate / 100)
    var noiseRNG = RNG(seed: config.seed &+ 2)
    for step in startStep..<config.steps {
      let picks = (0..<config.batch).map { _ in training[noiseRNG.int(training.count)] }
      let (noisy, target, sigmas) = try trainingPair(picks, rng: &noiseRNG)
      opt.learningRate = schedule.learningRate(at: step)
      opt.zeroGrad()
      let loss = Self.loss(net(noisy), target, weights: lossWeights(sigmas: sigmas))
      loss.backward()
      opt.step()
      progress(step, loss.item)
    }
    return (LearnedDenoiser(network: net), validation)
  }

  /// The training and the held-out validation tiles these settings draw from `photos` (seeded: the same
  /// settings and photos give the same tiles, so denoisers trained apart can be compared on them).
  /// - Throws: ``DenoiserTrainingError`` for unusable settings or photos without texture.
  public func tiles(from photos: [Image]) throws -> (training: [Image], validation: [Image]) {
    if let problem = config.problem { throw DenoiserTrainingError.invalidConfig(problem) }
    var rng = RNG(seed: config.seed)
    let sampler = TileSampler(size: config.tile)
    // Every tenth photo is held out whole, so validation tiles show scenes the network never saw.
    let heldOut = photos.count >= 10 ? photos.enumerated().filter { $0.offset % 10 == 9 }.map(\.element) : []
    let trainPhotos = photos.count >= 10 ? photos.enumerated().filter { $0.offset % 10 != 9 }.map(\.element) : photos
    let training = sampler.tiles(from: trainPhotos, count: config.trainTiles, rng: &rng)
    var validation = sampler.tiles(from: heldOut.isEmpty ? photos : heldOut, count: config.validationTiles, rng: &rng)
    if validation.isEmpty { validation = sampler.tiles(from: photos, count: config.validationTiles, rng: &rng) }
    guard !training.isEmpty, !validation.isEmpty else {
      throw DenoiserTrainingError.noTexturedTiles(photos: photos.count, tile: config.tile)
    }
    return (training, validation)
  }

  /// A batch's network input and target: clean tiles plus Gaussian noise, and the noise; a tile drawn
  /// for JPEG (``DenoiserTrainingConfig/jpegProbability``) becomes JPEG(clean + noise) with target
  /// JPEG(clean + noise) − JPEG(clean), both at one quality.
  func trainingPair(_ tiles: [Image], rng: inout RNG) throws -> (input: Tensor, target: Tensor, sigmas: [Float]) {
    let clean = Image.batch(tiles)
    let (noise, sigmas) = noisyBatch(clean, rng: &rng)
    let noisy = clean + noise
    guard config.jpegProbability > 0 else { return (noisy, noise, sigmas) }
    let per = clean.count / clean.shape[0]
    let input = noisy.toLayout(.plain, differentiable: false)
    let target = noise.toLayout(.plain, differentiable: false)
    for (n, tile) in tiles.enumerated() where rng.uniform() < config.jpegProbability {
      let quality = config.jpegQualityMin + rng.int(config.jpegQualityMax - config.jpegQualityMin + 1)
      let compressed = try Image(input, index: n).jpegRecompressed(quality: quality).pixels
      let reference = try tile.jpegRecompressed(quality: quality).pixels
      for i in 0..<per {
        input.pointer[n * per + i] = compressed[i]
        target.pointer[n * per + i] = compressed[i] - reference[i]
      }
    }
    return (input, target, sigmas)
  }

  /// Gaussian noise with a per-image standard deviation drawn from the configured range, and those
  /// standard deviations (/255).
  func noisyBatch(_ clean: Tensor, rng: inout RNG) -> (noise: Tensor, sigmas: [Float]) {
    let noise = Tensor(uninitialized: clean.shape)
    let per = clean.count / clean.shape[0]
    var sigmas: [Float] = []
    for n in 0..<clean.shape[0] {
      let sigma = rng.uniform(config.sigmaMin, config.sigmaMax) / 255
      sigmas.append(sigma)
      for i in 0..<per { noise.pointer[n * per + i] = rng.normal() * sigma }
    }
    return (noise, sigmas)
  }

  /// Each tile's weight in the loss: nil for ``DenoiserLoss/mse`` (every element alike), 1/σ² scaled to
  /// average 1 for ``DenoiserLoss/levelNormalized``.
  func lossWeights(sigmas: [Float]) -> [Float]? {
    switch config.loss {
    case .mse: return nil
    case .levelNormalized:
      let inverse = sigmas.map { 1 / ($0 * $0) }
      let mean = inverse.reduce(0, +) / Float(inverse.count)
      return inverse.map { $0 / mean }
    }
  }

  /// The mean squared error of `prediction` against `target` [N, ...], each sample's squared error
  /// multiplied by its weight (plain mean without weights). Weighting is done by scaling both sides by
  /// √w, which the multiply and the mean-squared-error ops already differentiate.
  static func loss(_ prediction: Tensor, _ target: Tensor, weights: [Float]?) -> Tensor {
    guard let weights else { return mseLoss(prediction, target) }
    precondition(
      weights.count == target.shape[0], "loss: \(weights.count) weights for a batch of shape \(target.shape)")
    let per = target.count / target.shape[0]
    let scale = Tensor(uninitialized: target.shape)
    for (n, w) in weights.enumerated() {
      let root = w.squareRoot()
      for i in 0..<per { scale.pointer[n * per + i] = root }
    }
    let plainTarget = target.toLayout(.plain, differentiable: false)
    return mseLoss(prediction * scale, plainTarget * scale)
  }

  /// The noise levels (grey levels) of the held-out report: from the amplitude of real generators'
  /// residuals (about 1–13 grey levels) to the top of the default training range.
  public static let reportSigmas: [Float] = [2, 5, 10, 25]

  /// PSNR of noisy vs denoised tiles at `sigma` grey levels (fixed seed, so runs compare).
  public static func evaluate(_ denoiser: LearnedDenoiser, tiles: [Image], sigma: Float = 5, seed: UInt64 = 7)
    -> Evaluation
  {
    var rng = RNG(seed: seed)
    var noisyMSE = 0.0
    var denoisedMSE = 0.0
    for start in stride(from: 0, to: tiles.count, by: 32) {
      let clean = Image.batch(Array(tiles[start..<min(start + 32, tiles.count)]))
      let noise = Tensor.normal(clean.shape, std: sigma / 255, rng: &rng)
      let noisy = clean + noise
      let denoised = denoiser.denoise(noisy)
      noisyMSE += Double(Elementwise.squaredDistance(noisy.pointer, clean.pointer, clean.count))
      denoisedMSE += Double(Elementwise.squaredDistance(denoised.pointer, clean.pointer, clean.count))
    }
    let n = Double(tiles.reduce(0) { $0 + 3 * $1.width * $1.height })
    func psnr(_ mse: Double) -> Double { 10 * log10(1 / max(mse / n, 1e-20)) }
    return Evaluation(sigma: sigma, noisyPSNR: psnr(noisyMSE), denoisedPSNR: psnr(denoisedMSE))
  }
}
