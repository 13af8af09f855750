import ArgumentParser
import Fingerprint
import Foundation
import Imaging
import NN

/// `modelprint whiten`: fits the extractor's embedding whitening on images of synthetic models.
struct WhitenCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "whiten",
    abstract:
      "Fit an embedding whitening (WCCN) on synthetic models' images and write it into a copy of the extractor.",
    discussion: """
      SET is a folder of model folders of synthetic models' outputs, e.g. `modelprint generate` on a pool of
      seeds the extractor did not train on. The raw embeddings are centred and their within-model covariance
      whitened; OUT is the extractor with that transform, which every command then applies to image
      embeddings. Use synthetic models only: fitting on real generators' images, or on a set you evaluate
      on, would make an evaluation of the result meaningless. Galleries built with the input extractor must
      be enrolled again with OUT (its SHA-256 differs).
      """)

  @Argument(help: "Folder of model folders (ROOT/<model>/<image>) of synthetic models' images.") var set: String
  @Option(help: "Extractor checkpoint to whiten (default: the shipped \(Shipped.extractor)).") var extractor: String?
  @Option(name: .shortAndLong, help: "Checkpoint to write (.safetensors).") var out: String
  @Option(help: "Ridge added to the within-model covariance, as a fraction of its mean eigenvalue.")
  var shrinkage: Double = EmbeddingWhitening.defaultShrinkage
  @Option(help: "Images per model at most (the first ones in sorted order).") var perModel: Int = 12
  @Option(help: "Windows per side (N × N windows; smaller images are scaled up first).")
  var windows: Int = Extractor.defaultGrid
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard shrinkage.isFinite, shrinkage > 0 else { throw ValidationError("--shrinkage must be positive") }
    guard perModel >= 2 else { throw ValidationError("--per-model must be at least 2") }
    guard (1...maxWindowsPerSide).contains(windows) else {
      throw ValidationError("--windows must be between 1 and \(maxWindowsPerSide), got \(windows)")
    }
  }

  func run() throws {
    try common.apply()
    let source = try Shipped.path(extractor, default: Shipped.extractor)
    let ex = try Extractor.load(from: URL(fileURLWithPath: source))
    if ex.whitening != nil { Log.info("\(source) already has a whitening; it is replaced (fitted on raw embeddings)") }
    let folders = try ModelFolders(root: set)
    let decoder = ImageDecoder()
    var embeddings: [[Float]] = []
    var labels: [Int] = []
    var skipped = 0
    let progress = Progress(total: Double(folders.models.count), label: "embed")
    for (i, model) in folders.models.enumerated() {
      let decoded = decoder.decodeAll(Array(model.files.prefix(perModel)))
      for f in decoded.failures { Log.info("skipped \(f.error)") }
      skipped += decoded.failures.count
      let e = ex.rawEmbeddings(images: decoded.images.map(\.image), grid: windows)
      embeddings += e
      labels += [Int](repeating: i, count: e.count)
      progress.advance(by: 1, count: "\(i + 1)/\(folders.models.count)", detail: "models")
    }
    progress.finish()
    // An ensemble's parts are whitened one by one, each on its own slice of the raw embeddings.
    var whitenings: [EmbeddingWhitening] = []
    var start = 0
    for part in ex.parts {
      let end = start + part.network.embeddingWidth
      do {
        whitenings.append(
          try EmbeddingWhitening.fit(embeddings.map { Array($0[start..<end]) }, labels: labels, shrinkage: shrinkage))
      } catch { throw InputError("\(set): \(error)") }
      start = end
    }
    let record: [String: Any] = [
      "set": set, "models": folders.models.count,
      "images": embeddings.count, "skipped": skipped, "shrinkage": shrinkage, "per_model": perModel,
      "windows": windows, "extractor": source,
    ]
    let recordText = String(
      decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self)
    var extra = (try? Safetensors.read(URL(fileURLWithPath: source)).metadata) ?? [:]
    for key in [
      "extractor_format", "architecture", "width", "projection", "input", "classes", "format_version",
      "embedding_transform", "embedding_transform_source",
    ] {
      extra[key] = nil
    }
    let parts = zip(ex.parts, whitenings).map {
      Extractor(network: $0.network, input: $0.input, classes: $0.classes, whitening: $1, whiteningSource: recordText)
    }
    let whitened = parts.count == 1 ? parts[0] : try Extractor.ensemble(parts)
    try whitened.save(to: URL(fileURLWithPath: out), extra: extra)
    print(
      "wrote \(out): \(whitenings.map { "\($0.dimension)" }.joined(separator: " + "))-d whitening fitted on \(embeddings.count) images of "
        + "\(folders.models.count) models (shrinkage \(shrinkage))\(skipped > 0 ? ", \(skipped) files skipped" : "")")
    // As in every batch command: the output is written from the readable files, and the exit status says
    // that some were not.
    if skipped > 0 { throw ExitCode(1) }
  }
}
