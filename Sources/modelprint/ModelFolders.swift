import Attribution
import Evaluation
import Fingerprint
import Foundation
import Imaging

/// A folder-per-model set (ROOT/<model>/<image>): the one loader of labelled images, for `evaluate`
/// (known and unknown models), `calibrate` and `train --eval`. Models are the subfolders in sorted
/// order, label `i` is `models[i]`, and each model's images come in sorted file order (the protocol
/// enrolls the first ones).
struct ModelFolders {
  /// How messages name the set: the folder, with the flag that gave it when there is one.
  let what: String
  let models: [(name: String, files: [URL])]

  /// The model folders of `root` with their image files; fewer than `minimumModels` is an error.
  init(root: String, flag: String? = nil, minimumModels: Int = 2) throws {
    what = flag.map { "\($0) \(root)" } ?? root
    models = try ImageFiles.models(in: URL(fileURLWithPath: root))
    guard models.count >= max(minimumModels, 1) else {
      throw InputError(
        "\(what): found \(models.count) model folders with images; expected ROOT/<model>/<image> with "
          + "\(max(minimumModels, 1)) or more models")
    }
  }

  /// Every image embedded by `embedder` (decoded in batches, so a set of any size fits in memory), each
  /// perturbed first when `perturbation` is given. Unreadable files are reported and counted; a model
  /// left with fewer than `minimumPerModel` images is an error.
  func embedded(
    by embedder: Embedder, perturbation: Perturbation? = nil, minimumPerModel: Int = 2, progressLabel: String = ""
  ) throws -> LabelledEmbeddings {
    var set = LabelledEmbeddings()
    for (i, model) in models.enumerated() {
      let (embedded, failed) = embedder.embed(
        files: model.files, label: "\(progressLabel)[\(i + 1)/\(models.count)] \(model.name)",
        perturbation: perturbation)
      set.skipped += failed
      try check(model.name, usable: embedded.count, skipped: failed, minimumPerModel)
      set.models.append(model.name)
      set.embeddings += embedded.map(\.embedding)
      set.labels += [Int](repeating: i, count: embedded.count)
    }
    return set
  }

  /// Every image decoded and kept in memory, for a set scored again and again (after every training
  /// epoch). Unreadable files are reported; a model left with fewer than `minimumPerModel` images is an
  /// error.
  func decoded(minimumPerModel: Int = 2) throws -> LabelledImages {
    var set = LabelledImages()
    let decoder = ImageDecoder()
    for (i, model) in models.enumerated() {
      let batch = decoder.decodeAll(model.files)
      for f in batch.failures { Log.info("skipped \(f.error)") }
      try check(model.name, usable: batch.images.count, skipped: batch.failures.count, minimumPerModel)
      set.models.append(model.name)
      set.images += batch.images.map(\.image)
      set.labels += [Int](repeating: i, count: batch.images.count)
    }
    return set
  }

  private func check(_ model: String, usable: Int, skipped: Int, _ minimum: Int) throws {
    guard usable >= minimum else {
      throw InputError(
        "\(what)/\(model): \(usable) usable images\(skipped > 0 ? " (\(skipped) unreadable, listed above)" : ""); "
          + "every model needs \(minimum) or more")
    }
  }
}

/// The embeddings of a folder-per-model set, with model labels.
struct LabelledEmbeddings {
  var models: [String] = []
  var embeddings: [[Float]] = []
  var labels: [Int] = []
  var skipped = 0

  /// Embeds every model folder of `root` (two or more, each with two or more usable images), each image
  /// perturbed first when `perturbation` is given.
  init(root: String, embedder: Embedder, perturbation: Perturbation? = nil) throws {
    let folders = try ModelFolders(root: root)
    let total = folders.models.reduce(0) { $0 + $1.files.count }
    Log.info(
      "\(root): \(folders.models.count) models, \(total) images, method \(embedder.name)"
        + (perturbation.map { ", perturbation \($0)" } ?? ""))
    self = try folders.embedded(by: embedder, perturbation: perturbation)
  }

  init() {}
}

/// The decoded images of a folder-per-model set, with model labels.
struct LabelledImages {
  var models: [String] = []
  var images: [Image] = []
  var labels: [Int] = []

  /// The protocol's numbers for `extractor` on these images (`grid` × `grid` windows each), with the
  /// protocol's default n-shot and pair count, as `modelprint evaluate` scores a set.
  func evaluate(_ extractor: Extractor, grid: Int = Extractor.defaultGrid) -> EvaluationResult {
    EvaluationProtocol.evaluate(extractor.embed(images: images, grid: grid), labels: labels).result
  }
}
