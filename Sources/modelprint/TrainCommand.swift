import ArgumentParser
import Fingerprint
import Foundation
import Imaging
import NN
import Synthesis
import Tensor

/// Dev-set images as window embeddings, with labels (folder per model).
struct LabelledImages {
  var images: [Image] = []
  var labels: [Int] = []
  var names: [String] = []

  init(root: String) throws {
    let decoder = ImageDecoder()
    for (i, model) in try ImageFiles.models(in: URL(fileURLWithPath: root)).enumerated() {
      let batch = decoder.decodeAll(model.files)
      for f in batch.failures { Log.info("  skipped \(f.error)") }
      names.append(model.name)
      for e in batch.images {
        images.append(e.image)
        labels.append(i)
      }
    }
  }

  /// 1:N (10-shot) and 1:1 (4000 pairs) with the raw mean of the window embeddings.
  func evaluate(_ extractor: Extractor, grid: Int = 3) -> [String: Double] {
    let e = extractor.embed(images: images, grid: grid)
    let (acc, f1) = oneToN(e, labels: labels)
    let (auc, acc11) = oneToOne(e, labels: labels)
    return ["acc_1n": acc, "f1_1n": f1, "auc": auc, "acc_11": acc11]
  }
}

/// `modelprint train`: the fingerprint extractor, trained on a synthetic pool only.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train the fingerprint extractor on a synthetic model pool (ResNet-18, CE + batch-hard triplet).",
    discussion: """
      Every pool model fingerprints --tiles-per-model of the pool's real tiles (8-bit outputs); each tile's
      residual spectrum (image − 3×3 box blur, fftshift(log1p(255·|FFT2|)) per channel, standardised per
      channel) is the network input. A seeded tenth of the architectures is held out and scored every
      epoch as zero-shot 1:N accuracy; --eval adds the same for a folder-per-model set of real generators.
      Writes OUT (weights and settings), OUT.config.json, OUT.log.csv and OUT.results.json.
      """)

  @Option(help: "Pool folder from `modelprint synthesize`.") var pool: String = "pools/default"
  @Option(name: .shortAndLong, help: "Checkpoint to write (.safetensors).") var out: String
  @Option(help: "Optimizer steps.") var steps: Int = 1940
  @Option(name: .customLong("P"), help: "Models per batch.") var p: Int = 32
  @Option(name: .customLong("K"), help: "Tiles per model in a batch.") var k: Int = 4
  @Option(help: "Fingerprinted tiles per pool model.") var tilesPerModel: Int = 144
  @Option(help: "ResNet-18 base width.") var width: Int = 32
  @Option(help: "Learning rate (AdamW).") var lr: Float = 1e-3
  @Option(help: "Seed of the split, initialisation and sampling.") var seed: UInt64 = 0
  @Option(help: "Folder-per-model set of real generators' images scored each epoch (never trained on).")
  var eval: String?
  @Option(help: "Comma-separated architectures to hold out (default: a seeded tenth).") var heldOut: String?
  @Flag(help: "Continue from OUT.resume.safetensors (written after every epoch) if it exists.")
  var resume = false
  @OptionGroup var common: CommonOptions

  func run() throws {
    try common.apply()
    var config = ExtractorConfig()
    config.steps = steps
    config.modelsPerBatch = p
    config.tilesPerClass = k
    config.tilesPerModel = tilesPerModel
    config.width = width
    config.learningRate = lr
    config.seed = seed
    if let heldOut {
      let ids = heldOut.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      for id in ids where (try? Architecture(id: id)) == nil {
        throw ValidationError("--held-out: '\(id)' is not an architecture id")
      }
      config.heldOut = ids
    }
    let store = try PoolStore(existing: URL(fileURLWithPath: pool))
    let tiles = try TileSet.read(store.tilesURL)
    let outURL = URL(fileURLWithPath: out)
    let base = outURL.deletingPathExtension()
    try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
    try saveConfig(config, to: base.appendingPathExtension("config.json"))
    let start = Date()
    var input = SpectralInput()
    input.size = tiles.size
    let prep = Progress(total: Double(store.manifest.models.count), label: "fingerprint")
    var prepReported = 0
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: tilesPerModel, input: input, seed: seed) {
      done, total in
      if done % 24 == 0 || done == total {
        prep.advance(by: Double(done - prepReported), count: "\(done)/\(total)", detail: "models")
        prepReported = done
      }
    }
    prep.finish()
    let prepSeconds = Date().timeIntervalSince(start)
    let dev = try eval.map { try LabelledImages(root: $0) }
    let trainer = ExtractorTrainer(config: config)
    var log = "step,loss,accuracy,lr\n"
    var history: [[String: Double]] = []
    let trainStart = Date()
    let progress = Progress(total: Double(steps), label: "train")
    var recent: [(Float, Float)] = []
    var reported = 0
    var heldClasses: [Int] = []
    let held = trainer.heldOutArchitectures(set)
    heldClasses = set.architectures.indices.filter { held.contains(set.architectures[$0]) }
    let resumeURL = base.appendingPathExtension("resume.safetensors")
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let configJSON = String(decoding: try encoder.encode(config), as: UTF8.self)
    var resumeState: ExtractorTrainer.Resume?
    if resume, FileManager.default.fileExists(atPath: resumeURL.path) {
      let file = try Safetensors.read(resumeURL)
      guard file.metadata["config"] == configJSON, let step = file.metadata["step"].flatMap(Int.init) else {
        throw ValidationError(
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
      progress.advance(by: Double(step), count: "\(step)/\(steps)", detail: "resumed")
    }
    let (extractor, _) = try trainer.train(
      set, resume: resumeState,
      onStep: { s in
        log += "\(s.step),\(s.loss),\(s.accuracy),\(s.learningRate)\n"
        recent.append((s.loss, s.accuracy))
        if recent.count > 20 { recent.removeFirst() }
        if s.step % 20 == 19 || s.step == steps - 1 {
          let l = recent.map(\.0).reduce(0, +) / Float(recent.count)
          let a = recent.map(\.1).reduce(0, +) / Float(recent.count)
          progress.advance(
            by: Double(s.step + 1 - reported), count: "\(s.step + 1)/\(steps)",
            detail: String(format: "loss %.3f acc %.2f", l, a))
          reported = s.step + 1
        }
      },
      onEpoch: { ex, epoch, state in
        var h: [String: Double] = ["epoch": Double(epoch)]
        h["zeroshot_acc"] = trainer.zeroShot(ex, set, classes: heldClasses).accuracy
        if let dev { h["dev_acc_1n"] = dev.evaluate(ex)["acc_1n"] }
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
    var results: [String: Any] = [
      "prep_seconds": prepSeconds, "train_seconds": trainSeconds,
      "images_per_second": Double(steps * p * k) / trainSeconds, "history": history,
      "held_out_architectures": held.sorted(),
    ]
    let zs = trainer.zeroShot(extractor, set, classes: heldClasses)
    results["zeroshot_heldout_archs"] = ["acc_1n": zs.accuracy, "f1_1n": zs.macroF1]
    if let dev { results["dev"] = dev.evaluate(extractor) }
    try log.write(to: base.appendingPathExtension("log.csv"), atomically: true, encoding: .utf8)
    let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(json, to: base.appendingPathExtension("results.json"))
    try extractor.save(to: outURL, extra: ["config": configJSON])
    print(String(decoding: json, as: UTF8.self))
  }
}
