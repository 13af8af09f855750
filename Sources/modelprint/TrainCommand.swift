import ArgumentParser
import Evaluation
import Fingerprint
import Foundation
import Imaging
import NN
import Spectral
import Synthesis
import Tensor

/// `modelprint train`: the fingerprint extractor, trained on a synthetic pool only (or fine-tuned with
/// real generators' images as extra classes).
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train the fingerprint extractor on a synthetic model pool (ResNet, CE + batch-hard triplet).",
    discussion: """
      Every pool model fingerprints --tiles-per-model of the pool's real tiles (8-bit outputs); each tile's
      residual spectrum (image − 3×3 box blur, fftshift(log1p(255·|FFT2|)) per channel, standardised per
      channel) is the network input. A seeded tenth of the architectures is held out and scored every
      epoch as zero-shot 1:N accuracy; --eval adds the same for a folder-per-model set of real generators.
      Settings come from the defaults, then --config FILE (JSON, any subset of the keys of OUT.config.json),
      then the flags given. Writes OUT (weights and settings), OUT.config.json, OUT.log.csv,
      OUT.results.json and, after every epoch, OUT.resume.safetensors for --resume.

      Fine-tuning (the paper's "Fine-tune" variant): --fine-tune ROOT --from CKPT continues from CKPT with
      ROOT's folder-per-model real images as extra classes (random crops), by default for one epoch at
      learning rate 1e-4.

      Under `mpirun -np R` (a build with MODELPRINT_MPI=1) the R ranks share every batch (data-parallel,
      one gradient all-reduce per step); batch norm keeps per-rank statistics, the same as a single
      process with --bn-groups R. Rank 0 writes every file (docs/scale-out.md).
      """)

  @Option(help: "Pool folder from `modelprint synthesize`.") var pool: String = "pools/default"
  @Option(
    help: ArgumentHelp(
      "Real photos to fingerprint (default: the pool's own tile cache, cut from the photos it was trained on).",
      discussion: "Tiles of the pool's size, or of --tile-size, are cut afresh (seeded) from every image under DIR."))
  var images: String?
  @Option(
    help: ArgumentHelp(
      "Side of the tiles cut from --images, when it differs from the pool's (a multiple of 16, 16–512).",
      discussion:
        "Synthetic models are convolutional, so a pool trained on 64 px tiles fingerprints 128 px tiles as well; "
        + "the extractor then takes windows of this size.",
      valueName: "N"))
  var tileSize: Int?
  @Option(
    help: ArgumentHelp(
      "Train on fingerprinted tiles saved as images instead of a pool: one folder per model (named ARCH_…).",
      discussion:
        "Tiles are taken in file order; --tiles-per-model of each folder are used. The tile size is the first readable image's (square)."
    ))
  var fingerprinted: String?
  @Option(name: .shortAndLong, help: "Checkpoint to write (.safetensors).") var out: String
  @Option(help: "JSON settings (keys as in OUT.config.json; absent keys keep their defaults).") var config: String?
  @Option(help: "Optimizer steps (default 1940).") var steps: Int?
  @Option(name: .customLong("P"), help: "Models per batch (default 32).") var p: Int?
  @Option(name: .customLong("K"), help: "Tiles per model in a batch (default 4).") var k: Int?
  @Option(help: "Fingerprinted tiles per pool model (default 144).") var tilesPerModel: Int?
  @Option(help: "ResNet depth: 18, 34 or 50 (default 18).") var depth: Int?
  @Option(help: "ResNet base width (default 32; torchvision's is 64).") var width: Int?
  @Flag(
    help: "Start every residual branch's last batch-norm scale at 0, so that deep networks train at the default rate.")
  var zeroInitResidual = false
  @Option(
    help: ArgumentHelp(
      "Train a cosine classifier with this additive margin (CosFace) instead of the linear one (default: linear).",
      discussion: "Logits s · (cos θ − m at the true class) between the normalised embedding and class weights, "
        + "so that the cross-entropy shapes the directions the attribution compares. Measured at 0, 0.1 and "
        + "0.35: no better than the linear classifier on real generators (docs/accuracy.md, tenth round)."))
  var cosineMargin: Float?
  @Option(help: "Scale s of the cosine classifier's logits (default 30; needs --cosine-margin).")
  var cosineScale: Float?
  @Option(
    help: ArgumentHelp(
      "A learned denoiser (`modelprint train-denoiser`) whose predicted noise is the spectra's residual.",
      discussion: "The paper's residual, instead of the image minus its 3×3 box blur (the default). The trained "
        + "extractor carries the denoiser's weights, so nothing else is needed to use it.", valueName: "denoiser"))
  var denoiser: String?
  @Option(help: "Learning rate (AdamW; default 1e-3, 1e-4 when fine-tuning).") var lr: Float?
  @Option(help: "Probability of a JPEG round trip of a training tile (default 0).") var jpegProb: Double?
  @Option(help: "JPEG quality range, e.g. 65-100.") var jpegQuality: String?
  @Option(help: "Probability of a random resized crop of a training tile (default 0).") var cropProb: Double?
  @Option(help: "Smallest area fraction of a random resized crop (default 0.5).") var cropAreaMin: Double?
  @Option(help: "Probability of a rescale (area, bilinear or bicubic) of a training tile (default 0).")
  var resizeProb: Double?
  @Option(help: "Rescale factor range, log-uniform, e.g. 0.5-2 (default 0.5-2).") var resizeScale: String?
  @Option(help: "Probability of a light Gaussian blur of a training tile (default 0).") var blurProb: Double?
  @Option(help: "Largest blur sigma in pixels, from 0.3 (default 1).") var blurSigmaMax: Double?
  @Option(
    name: .customLong("jpeg-444-prob"),
    help: "Probability that a JPEG round trip keeps 4:4:4 chroma instead of 4:2:0 (default 0).")
  var jpeg444Prob: Double?
  @Option(help: "Seed of the split, initialisation and sampling (default 0).") var seed: UInt64?
  @Option(
    help: ArgumentHelp(
      "Batch-norm statistics per contiguous 1/G of each batch (ghost batch norm; default 1, under MPI the rank count).",
      discussion: "G must divide P × K, and under MPI be a multiple of the rank count.", valueName: "G"))
  var bnGroups: Int?
  @Option(
    help: ArgumentHelp(
      "How many of each batch's P models are fresh virtual generators, drawn anew every step (default 0).",
      discussion:
        "A virtual generator is a random stack of untrained decoder stages set near the identity, applied to K photo "
        + "tiles of the pool's tile cache (Synthesis.VirtualGenerator); its tiles enter the triplet loss only. "
        + "Q = P trains on virtual generators alone. Needs --pool; one process only.",
      valueName: "Q"))
  var virtual: Int?
  @Option(
    help: ArgumentHelp(
      "Tiles of one model whose log spectra are averaged into one training input (default 1).",
      discussion:
        "With M > 1 each batch draws K · M tiles per model, and the extractor embeds an image from the mean spectrum "
        + "of its windows instead of averaging the windows' embeddings. One process only; not with --virtual.",
      valueName: "M"))
  var spectraPerInput: Int?
  @Option(
    help: "Input spectra standardised per colour channel or per frequency bin: channel or frequency (default channel).")
  var standardise: String?
  @Option(help: "Folder-per-model set of real generators' images scored each epoch (never trained on).")
  var eval: String?
  @Option(help: "Comma-separated architectures to hold out (default: a seeded tenth).") var heldOut: String?
  @Option(help: "Folder-per-model set of real generators' images added as classes (needs --from).")
  var fineTune: String?
  @Option(help: "Extractor checkpoint to start from (fine-tuning).") var from: String?
  @Flag(help: "Continue from OUT.resume.safetensors (written after every epoch) if it exists.")
  var resume = false
  @OptionGroup var common: CommonOptions

  /// The side of the fingerprinted tiles under `root`: the first readable image's, which must be square
  /// (a larger image would be cropped to a tile of another size without notice).
  func tileSize(in root: URL) throws -> Int {
    let decoder = ImageDecoder()
    for model in try ImageFiles.models(in: root) {
      for file in model.files {
        guard let image = try? decoder.decode(contentsOf: file) else { continue }
        guard image.width == image.height else {
          throw InputError(
            "--fingerprinted: \(file.path) is \(image.width)×\(image.height); fingerprinted tiles are square")
        }
        return image.width
      }
    }
    throw InputError("--fingerprinted: no readable image under \(root.path) (one folder of tiles per model)")
  }

  /// Defaults, then the config file, then the flags given.
  func resolvedConfig() throws -> ExtractorConfig {
    var config = ExtractorConfig()
    if let path = self.config {
      let data: Data
      do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw InputError("--config: cannot read \(path): \(error.localizedDescription)")
      }
      do { config = try JSONDecoder().decode(ExtractorConfig.self, from: data) } catch {
        throw InputError(
          "--config: \(path) is not an extractor configuration (\(error)); give a JSON object of ExtractorConfig keys")
      }
      // A bad value in the file is the file's problem, not a flag's: exit 1, without the usage text.
      if let problem = config.problem { throw InputError("--config \(path): \(problem); correct the file") }
    }
    if fineTune != nil && lr == nil && self.config == nil { config.learningRate = 1e-4 }
    if let steps { config.steps = steps }
    if let p { config.modelsPerBatch = p }
    if let k { config.tilesPerClass = k }
    if let tilesPerModel { config.tilesPerModel = tilesPerModel }
    if let depth { config.depth = depth }
    if let width { config.width = width }
    if zeroInitResidual { config.zeroInitResidual = true }
    if let cosineMargin { config.cosineMargin = cosineMargin }
    if let cosineScale { config.cosineScale = cosineScale }
    if let denoiser { config.denoiser = denoiser }
    if let lr { config.learningRate = lr }
    if let seed { config.seed = seed }
    if let bnGroups { config.batchNormGroups = bnGroups }
    if let spectraPerInput { config.spectraPerInput = spectraPerInput }
    // One group is plain batch norm: recorded as absent, so that such a run's settings stay those of before.
    if config.batchNormGroups == 1 { config.batchNormGroups = nil }
    if let standardise { config.standardisation = standardise }
    if let virtual { config.virtualGenerators = virtual }
    // None is recorded as absent, so that such a run's settings stay those of before.
    if config.virtualGenerators == 0 { config.virtualGenerators = nil }
    if let jpegProb { config.augmentation.jpegProbability = jpegProb }
    if let cropProb { config.augmentation.cropProbability = cropProb }
    if let cropAreaMin { config.augmentation.cropAreaMin = cropAreaMin }
    if let resizeProb { config.augmentation.resizeProbability = resizeProb }
    if let resizeScale {
      (config.augmentation.resizeScaleMin, config.augmentation.resizeScaleMax) = try Self.range(
        resizeScale, flag: "--resize-scale", example: "0.5-2")
    }
    if let blurProb { config.augmentation.blurProbability = blurProb }
    if let blurSigmaMax { config.augmentation.blurSigmaMax = blurSigmaMax }
    if let jpeg444Prob { config.augmentation.jpegChroma444Probability = jpeg444Prob }
    if let jpegQuality {
      (config.augmentation.jpegQualityMin, config.augmentation.jpegQualityMax) = try Self.range(
        jpegQuality, flag: "--jpeg-quality", example: "65-100")
    }
    if let heldOut {
      let ids = heldOut.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      for id in ids where (try? Architecture(id: id)) == nil {
        throw ValidationError("--held-out: '\(id)' is not an architecture id")
      }
      config.heldOut = ids
    }
    if let problem = config.problem { throw ValidationError(problem) }
    if config.depth == 34 && config.learningRate > 3e-4 && fineTune == nil && config.zeroInitResidual != true {
      // Measured, not assumed: docs/accuracy.md, ninth round (the loss stayed at 5.9 from step 100 on).
      Log.info(
        "warning: ResNet-34 did not learn at learning rate \(config.learningRate) in a measured run of this "
          + "recipe (docs/accuracy.md, ninth round); pass --zero-init-residual (it then learns at 1e-3) or "
          + "--lr 3e-4")
    }
    return config
  }

  /// Checks what can be checked in seconds, so that a bad flag fails before minutes of fingerprinting.
  /// `LOW-HIGH` (or one value for both) of a range option.
  static func range<T: LosslessStringConvertible>(_ text: String, flag: String, example: String) throws -> (T, T) {
    let parts = text.split(separator: "-").compactMap { T(String($0)) }
    guard parts.count == 2 || parts.count == 1 else {
      throw ValidationError("\(flag): expected LOW-HIGH such as \(example), got '\(text)'")
    }
    return (parts[0], parts[parts.count - 1])
  }

  func validate() throws {
    if let tileSize {
      guard images != nil, fingerprinted == nil else {
        throw ValidationError("--tile-size cuts tiles from --images DIR: give --images, and no --fingerprinted")
      }
      guard (16...512).contains(tileSize), tileSize % 16 == 0 else {
        throw ValidationError("--tile-size \(tileSize): give a multiple of 16 from 16 to 512")
      }
    }
    if (fineTune == nil) != (from == nil) {
      throw ValidationError("--fine-tune ROOT and --from CKPT go together")
    }
    let config = try resolvedConfig()
    if let eval {
      // Every model needs a query left after the protocol's enrolled images; checked on file counts here,
      // on readable images once they are decoded in run().
      let folders = try ModelFolders(root: eval, flag: "--eval")
      let nShot = EvaluationProtocol.defaultNShot
      let short = folders.models.filter { $0.files.count <= nShot }
      guard short.isEmpty else {
        let list = short.prefix(5).map { "\($0.name) (\($0.files.count))" }.joined(separator: ", ")
        throw InputError(
          "--eval \(eval): every model needs more than \(nShot) image files (\(nShot) enroll it, the rest are "
            + "queries); too few in \(list)\(short.count > 5 ? ", …" : "")")
      }
    }
    if let fingerprinted {
      let models = try ImageFiles.models(in: URL(fileURLWithPath: fingerprinted))
      let named = models.filter { (try? Architecture(id: String($0.name.prefix { $0 != "_" }))) != nil }
      let others = models.filter { m in !named.contains { $0.name == m.name } }.map(\.name)
      guard others.isEmpty else {
        throw InputError(
          "--fingerprinted \(fingerprinted): folders must be named after their architecture (ARCH_…, ARCH six "
            + "digits as in `modelprint architectures`); not so: "
            + others.prefix(5).joined(separator: ", ") + (others.count > 5 ? ", …" : ""))
      }
      guard named.count >= 2 else {
        throw InputError(
          "--fingerprinted \(fingerprinted): \(named.count) model folder(s) with images; training needs 2 or more")
      }
    } else if let store = try? PoolStore(existing: URL(fileURLWithPath: pool)) {
      let tiles = store.manifest.config.tiles
      guard config.tilesPerModel <= tiles else {
        throw ValidationError(
          "--tiles-per-model \(config.tilesPerModel): the pool \(pool) has \(tiles) real tiles; give at most \(tiles)")
      }
      // Held-out architectures leave even fewer; the trainer says exactly how many once it has split.
      let models = store.manifest.models.count
      // An empty pool is a problem of the pool, not of the flag: run() names it (exit 1).
      guard models == 0 || config.modelsPerBatch <= models else {
        throw ValidationError(
          "--P \(config.modelsPerBatch): the pool \(pool) has \(models) models; give --P below that (each batch draws P models)"
        )
      }
    }
  }

  func run() throws {
    let group = try TrainingJob.start()
    do { try train(group) } catch { try TrainingJob.fail(group, error) }
    TrainingJob.finish(group)
  }

  /// The run on every rank of `group`: each prepares the whole set, trains its share of every batch;
  /// rank 0 alone logs, evaluates and writes files.
  func train(_ group: ProcessGroup) throws {
    try common.apply()
    var config = try resolvedConfig()
    let writer = group.rank == 0
    Log.muted = !writer
    if group.size > 1 {
      // Per-rank statistics are ghost batch norm with one group per rank; the config says so, which
      // makes this job's settings (and resume file) those of a single process with --bn-groups R.
      if config.batchNormGroups == nil { config.batchNormGroups = group.size }
      if let problem = config.problem { throw InputError("\(group.size) ranks: \(problem)") }
      if (config.virtualGenerators ?? 0) > 0 {
        throw InputError("--virtual is not implemented for data-parallel training; run one process without mpirun")
      }
      Log.info(
        "data-parallel training over \(group.size) ranks: each takes \((config.modelsPerBatch * config.tilesPerClass) / group.size) tiles of every batch"
      )
    }
    let initial = try from.map { try Extractor.load(from: URL(fileURLWithPath: $0)) }
    if let initial, !initial.members.isEmpty {
      throw InputError("--from \(from!) is an ensemble of \(initial.parts.count) extractors: start from one of them")
    }
    // Read before the long preparation, so that an unusable dev set stops the run at once.
    let dev = try eval.map {
      try ModelFolders(root: $0, flag: "--eval").decoded(minimumPerModel: EvaluationProtocol.defaultNShot + 1)
    }
    let outURL = URL(fileURLWithPath: out)
    let base = outURL.deletingPathExtension()
    try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
    let start = Date()
    var set: FingerprintedSet
    var photos: TileSet? = nil
    let size: Int
    if let fingerprinted {
      if (config.virtualGenerators ?? 0) > 0 {
        throw InputError(
          "--virtual needs photo tiles to apply the generators to: train from --pool, not --fingerprinted")
      }
      size = try initial?.input.size ?? tileSize(in: URL(fileURLWithPath: fingerprinted))
      Log.info("reading fingerprinted tiles of \(size) px from \(fingerprinted)")
      set = try FingerprintedSet(
        folders: URL(fileURLWithPath: fingerprinted), perModel: config.tilesPerModel, size: size, seed: config.seed,
        exactSize: true, isArchitecture: { (try? Architecture(id: $0)) != nil },
        skipped: { Log.info("  skipped \($0)") })
    } else {
      let store = try PoolStore(existing: URL(fileURLWithPath: pool))
      var tiles = try TileSet.read(store.tilesURL, size: store.manifest.config.size)
      guard !store.manifest.models.isEmpty else {
        throw InputError("\(pool): the pool has no trained models yet; run `modelprint synthesize --out \(pool)`")
      }
      if let images {
        let files = try ImageFiles.collect([images])
        guard !files.isEmpty else {
          throw InputError("no images under \(images); give a folder of .jpg, .png or .webp images")
        }
        let side = tileSize ?? tiles.size
        Log.info("cutting \(tiles.count) tiles of \(side) px from \(files.count) images in \(images)")
        tiles = try TileSet.cut(
          from: files, count: tiles.count, size: side, seed: config.seed, skipped: { Log.info("  skipped \($0)") })
      }
      size = tiles.size
      photos = tiles
      // Under MPI the ranks share the fingerprinting (model i on rank i mod R) and exchange the tiles;
      // rank 0's bar counts its own models.
      let models = store.manifest.models.count
      let ownModels = (models - group.rank + group.size - 1) / group.size
      let prep = Progress(total: Double(ownModels), label: "fingerprint")
      var prepReported = 0
      set = try FingerprintedSet(
        store: store, tiles: tiles, perModel: config.tilesPerModel, seed: config.seed, group: group
      ) { done, total in
        if done % 24 == 0 || done == total {
          prep.advance(by: Double(done - prepReported), count: "\(done)/\(total)", detail: "models")
          prepReported = done
        }
      }
      prep.finish()
    }
    if let fineTune {
      Log.info("adding the real generators under \(fineTune) as classes")
      let real = try FingerprintedSet(
        folders: URL(fileURLWithPath: fineTune), perModel: config.tilesPerModel, size: size, seed: config.seed,
        skipped: { Log.info("  skipped \($0)") })
      Log.info("  \(real.keys.count) real generators: \(real.keys.joined(separator: ", "))")
      set.append(real)
      if steps == nil && self.config == nil {
        // One epoch over the enlarged set, as the paper fine-tunes.
        let trainModels = ExtractorTrainer(config: config).split(set).train.count
        config.steps = max(1, trainModels * config.tilesPerModel / (config.modelsPerBatch * config.tilesPerClass))
      }
    }
    let prepSeconds = Date().timeIntervalSince(start)
    if writer { try saveConfig(config, to: base.appendingPathExtension("config.json")) }
    let residualNet = try config.denoiser.map { path in
      do { return try LearnedDenoiser.load(from: URL(fileURLWithPath: path)) } catch {
        throw InputError("--denoiser \(path): \(error); give a file written by `modelprint train-denoiser`")
      }
    }
    let trainer = ExtractorTrainer(config: config, denoiser: residualNet)
    let totalSteps = config.steps
    var log = "step,loss,accuracy,lr\n"
    var history: [[String: Double]] = []
    let trainStart = Date()
    let progress = Progress(total: Double(totalSteps), label: "train")
    var recent: [(Float, Float)] = []
    var reported = 0
    let heldClasses = trainer.split(set).heldOut
    let resumeURL = base.appendingPathExtension("resume.safetensors")
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let configJSON = String(decoding: try encoder.encode(config), as: UTF8.self)
    var resumeState: ExtractorTrainer.Resume?
    if resume, FileManager.default.fileExists(atPath: resumeURL.path) {
      let file = try Safetensors.read(resumeURL)
      guard file.metadata["config"] == configJSON, let step = file.metadata["step"].flatMap(Int.init) else {
        throw InputError(
          "\(resumeURL.path) was written by a run with other settings; use the same flags or delete it")
      }
      func group(_ prefix: String) -> [String: Tensor] {
        Dictionary(
          uniqueKeysWithValues: file.tensors.filter { $0.key.hasPrefix(prefix) }.map {
            (String($0.key.dropFirst(prefix.count)), $0.value)
          })
      }
      resumeState = .init(step: step, network: group("net."), optimizer: group("opt."))
      log = file.metadata["log"] ?? log
      if let h = file.metadata["history"], let data = h.data(using: .utf8),
        let old = try? JSONSerialization.jsonObject(with: data) as? [[String: Double]]
      {
        history = old
      }
      reported = step
      progress.advance(by: Double(step), count: "\(step)/\(totalSteps)", detail: "resumed")
    }
    if group.size > 1 {
      // Every rank reads the resume file itself; all must have found the same one (a shared folder).
      let steps = group.allGather([Float(resumeState?.step ?? -1)])
      guard Set(steps).count == 1 else {
        let seen = steps.enumerated().map {
          "rank \($0.offset): \($0.element < 0 ? "none" : "step \(Int($0.element))")"
        }
        throw InputError(
          "--resume: the ranks found different resume files at \(resumeURL.path) (\(seen.joined(separator: ", "))); "
            + "every rank must see the same OUT folder (a shared file system)")
      }
    }
    let (extractor, _) = try trainer.train(
      set, photos: photos, initial: initial, resume: resumeState, group: group,
      onStep: { s in
        log += "\(s.step),\(s.loss),\(s.accuracy),\(s.learningRate)\n"
        recent.append((s.loss, s.accuracy))
        if recent.count > 20 { recent.removeFirst() }
        if s.step % 20 == 19 || s.step == totalSteps - 1 {
          let l = recent.map(\.0).reduce(0, +) / Float(recent.count)
          let a = recent.map(\.1).reduce(0, +) / Float(recent.count)
          progress.advance(
            by: Double(s.step + 1 - reported), count: "\(s.step + 1)/\(totalSteps)",
            detail: String(format: "loss %.3f acc %.2f", l, a))
          reported = s.step + 1
        }
      },
      onEpoch: { ex, epoch, state in
        var h: [String: Double] = ["epoch": Double(epoch)]
        h["zeroshot_acc"] = trainer.zeroShot(ex, set, classes: heldClasses).accuracy
        if let dev { h["dev_acc_1n"] = dev.evaluate(ex).identification.accuracy }
        h["seconds"] = Date().timeIntervalSince(trainStart)
        history.append(h)
        progress.finish()
        Log.info(
          String(format: "epoch %d: zero-shot 1:N %.3f", epoch, h["zeroshot_acc"]!)
            + (h["dev_acc_1n"].map { String(format: ", dev 1:N %.3f", $0) } ?? ""))
        let s = state()
        var tensors: [String: Tensor] = [:]
        for (k, v) in s.network { tensors["net." + k] = v }
        for (k, v) in s.optimizer { tensors["opt." + k] = v }
        let historyJSON = (try? JSONSerialization.data(withJSONObject: history, options: [.sortedKeys])) ?? Data()
        do {
          try Safetensors.write(
            tensors,
            metadata: [
              "step": "\(s.step)", "config": configJSON, "log": log,
              "history": String(decoding: historyJSON, as: UTF8.self),
            ], to: resumeURL)
        } catch { Log.info("could not write the resume checkpoint \(resumeURL.path): \(error)") }
      })
    let trainSeconds = Date().timeIntervalSince(trainStart)
    guard writer else { return }
    var results: [String: Any] = [
      "prep_seconds": prepSeconds, "train_seconds": trainSeconds,
      "images_per_second": Double(
        (totalSteps - (resumeState?.step ?? 0)) * config.modelsPerBatch * config.tilesPerClass) / trainSeconds,
      "history": history,
      "held_out_architectures": trainer.heldOutArchitectures(set).sorted(),
    ]
    let zs = trainer.zeroShot(extractor, set, classes: heldClasses)
    results["zeroshot_heldout_archs"] = ["acc_1n": zs.accuracy, "f1_1n": zs.macroF1]
    if let dev {
      results["dev"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(dev.evaluate(extractor)))
    }
    try log.write(to: base.appendingPathExtension("log.csv"), atomically: true, encoding: .utf8)
    let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(json, to: base.appendingPathExtension("results.json"))
    try extractor.save(to: outURL, extra: ["config": configJSON])
    print(String(decoding: json, as: UTF8.self))
  }
}
