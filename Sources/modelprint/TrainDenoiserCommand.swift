import ArgumentParser
import Foundation
import Imaging
import Spectral
import Tensor

extension DenoiserLoss: ExpressibleByArgument {}

/// `modelprint train-denoiser`: trains the learned residual extractor on real photos.
struct TrainDenoiserCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train-denoiser",
    abstract: "Train a DnCNN denoiser on real photos (Gaussian noise, residual learning) for noise residuals.")

  @Option(help: "Folder of real photos (any layout; every .jpg/.png/.webp under it).")
  var images: String = "data/photos"

  @Option(
    name: .shortAndLong,
    help: "Output weights (.safetensors); the config and a CSV log go beside it (not needed with --evaluate).")
  var out: String?

  @Option(help: "DnCNN depth.") var depth: Int = 17
  @Option(help: "DnCNN width.") var width: Int = 64
  @Option(help: "Training steps.") var steps: Int = 2000
  @Option(help: "Batch size.") var batch: Int = 16
  @Option(help: "Tile side in pixels.") var tile: Int = 64
  @Option(help: "Seed.") var seed: UInt64 = 0
  @Option(help: "Adam learning rate (peak of the warm-up + cosine schedule).") var lr: Float = 1e-3
  @Option(help: "Smallest training noise level, in 8-bit grey levels.") var sigmaMin: Float = 1
  @Option(help: "Largest training noise level, in 8-bit grey levels.") var sigmaMax: Float = 25
  @Option(
    help: ArgumentHelp(
      "Share of training tiles re-compressed as JPEG after the noise is added (target: the noise that survives).",
      valueName: "p"))
  var jpegProb: Float = 0
  @Option(help: ArgumentHelp("JPEG quality range for --jpeg-prob.", valueName: "min-max"))
  var jpegQuality: String = "60-95"
  @Option(
    help: ArgumentHelp(
      "Training loss: mse (the top noise levels dominate) or level-normalized (each tile's error divided by its σ²).",
      valueName: "loss"))
  var loss: DenoiserLoss = .mse

  @Option(
    help: ArgumentHelp(
      "Only evaluate these denoiser weights on the held-out tiles the other settings draw (no training; --out unused).",
      valueName: "weights"))
  var evaluate: String?

  @OptionGroup var common: CommonOptions

  /// The training settings from the flags.
  var config: DenoiserTrainingConfig {
    get throws {
      var config = DenoiserTrainingConfig()
      config.depth = depth
      config.width = width
      config.steps = steps
      config.batch = batch
      config.tile = tile
      config.seed = seed
      config.learningRate = lr
      config.sigmaMin = sigmaMin
      config.sigmaMax = sigmaMax
      config.jpegProbability = jpegProb
      config.loss = loss
      (config.jpegQualityMin, config.jpegQualityMax) = try TrainCommand.range(
        jpegQuality, flag: "--jpeg-quality", example: "60-95")
      return config
    }
  }

  func validate() throws {
    if out == nil && evaluate == nil {
      throw ValidationError("Missing expected argument '--out <out>': where to write the weights (or give --evaluate)")
    }
    if let problem = try config.problem { throw ValidationError("--\(problem)") }
  }

  func run() throws {
    try common.apply()
    let config = try self.config
    let files = try ImageFiles.collect([images])
    let decoded = ImageDecoder().decodeAll(files)
    for f in decoded.failures { Log.info("skipped \(f.error)") }
    guard !decoded.images.isEmpty else {
      throw InputError("--images \(images): no readable photos; give a folder of .jpg, .png or .webp photos")
    }
    let photos = decoded.images.map(\.image)
    if let evaluate {
      let denoiser = try LearnedDenoiser.load(from: URL(fileURLWithPath: evaluate))
      let validation = try DenoiserTrainer(config: config).tiles(from: photos).validation
      for line in Self.report(denoiser, tiles: validation).lines { print(line) }
      return
    }
    guard let out else { preconditionFailure("validate() lets train-denoiser run without --out only with --evaluate") }
    Log.info(
      "\(decoded.images.count) photos; training DnCNN \(depth)×\(width) for \(steps) steps, \(loss.rawValue) loss")
    let outURL = URL(fileURLWithPath: out)
    let base = outURL.deletingPathExtension()
    try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
    try saveConfig(config, to: base.appendingPathExtension("config.json"))
    var log = "step,loss\n"
    let start = Date()
    let (denoiser, validation) = try DenoiserTrainer(config: config).train(photos: photos) {
      step, loss in
      log += "\(step),\(loss)\n"
      if step % 50 == 0 || step == steps - 1 {
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(step + 1) * Double(steps - step - 1)
        Log.info(
          String(format: "step %5d/%d  loss %.3g  %.0fs elapsed, ETA %.0fs", step + 1, steps, loss, elapsed, eta))
      }
    }
    try log.write(to: base.appendingPathExtension("log.csv"), atomically: true, encoding: .utf8)
    try denoiser.save(to: outURL, config: config)
    let report = Self.report(denoiser, tiles: validation)
    try saveConfig(report.evaluations, to: base.appendingPathExtension("eval.json"))
    for line in report.lines { print(line) }
  }

  /// The held-out PSNR at each of ``DenoiserTrainer/reportSigmas``, and one line per level.
  static func report(_ denoiser: LearnedDenoiser, tiles: [Image]) -> (
    evaluations: [DenoiserTrainer.Evaluation], lines: [String]
  ) {
    let evaluations = DenoiserTrainer.reportSigmas.map { DenoiserTrainer.evaluate(denoiser, tiles: tiles, sigma: $0) }
    let lines = evaluations.map {
      String(
        format: "held-out %d tiles at σ = %g/255: noisy %.2f dB → denoised %.2f dB (gain %.2f dB)", tiles.count,
        $0.sigma, $0.noisyPSNR, $0.denoisedPSNR, $0.gain)
    }
    return (evaluations, lines)
  }
}
