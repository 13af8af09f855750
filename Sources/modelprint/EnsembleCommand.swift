import ArgumentParser
import Attribution
import Fingerprint
import Foundation
import NN
import Synthesis

/// `modelprint ensemble`: joins extractors into one checkpoint whose embedding is the concatenation of
/// theirs.
struct EnsembleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ensemble",
    abstract: "Join two or more extractors into one ensemble checkpoint (their embeddings side by side).",
    discussion: """
      Each image's embedding is the concatenation of the members' embeddings, each whitened by its own \
      whitening (whiten the members first: `modelprint whiten`), and every command and the server use the \
      result as they use one extractor. An ensemble costs the sum of its members' time per image. Members \
      may take different window sizes (e.g. a network trained with `train --tile-size 128` beside 64 px \
      ones): each embeds the same N × N grid of windows of its own size. The first one's class list is kept. \
      Galleries built with another extractor must be enrolled again with OUT (its SHA-256 differs). A \
      member written ENSEMBLE@K is the K-th extractor (from 1, in embedding order) of an ensemble \
      checkpoint, e.g. models/extractor.safetensors@2, so that one part of an ensemble can be replaced.

      --pool POOL measures the ensemble's zero-shot 1:N on the architectures its members held out of \
      training (`zeroshot_heldout_archs` in OUT.results.json, as `modelprint train` writes it), when every \
      member was trained on that pool, takes its tile size and held out the same architectures.
      """)

  @Argument(
    help:
      "The member checkpoints (or ENSEMBLE@K for an ensemble's K-th part), in embedding order (2 to \(Extractor.maxEnsemble))."
  )
  var members: [String]
  @Option(name: .shortAndLong, help: "Checkpoint to write (.safetensors).") var out: String
  @Option(help: "The members' training pool, to measure zero-shot 1:N on their held-out architectures.")
  var pool: String?
  @Option(
    help: ArgumentHelp(
      "How OUT stores the weights: float32 (exact) or float16 (half the size; each value rounded to 11 "
        + "significant bits, tensors with values beyond binary16's range kept float32).",
      valueName: "storage"))
  var storage: Safetensors.Storage = .float32
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard (2...Extractor.maxEnsemble).contains(members.count) else {
      throw ValidationError("give 2 to \(Extractor.maxEnsemble) member checkpoints, got \(members.count)")
    }
  }

  func run() throws {
    try common.apply()
    let references = members.map(Self.reference)
    if pool != nil, let part = references.first(where: { $0.part != nil }) {
      throw InputError(
        "--pool reads each member's training settings from its own checkpoint; give \(part.path)'s part "
          + "as the checkpoint it was trained as, not as \(part.argument)")
    }
    let urls = references.map { URL(fileURLWithPath: $0.path) }
    let loaded = try references.map { try Self.load($0) }
    for (path, ex) in zip(members, loaded) where ex.whitening == nil {
      Log.info("\(path) has no whitening: its part of the embedding stays in the network's own scale")
    }
    let ensemble: Extractor
    do { ensemble = try Extractor.ensemble(loaded) } catch { throw InputError("\(error)") }
    let sources: [[String: String]] = try zip(members, urls).map { path, url in
      ["path": path, "sha256": try SHA256.hex(contentsOf: url)]
    }
    let sourcesJSON = String(
      decoding: try JSONSerialization.data(withJSONObject: sources, options: [.sortedKeys]), as: UTF8.self)
    let outURL = URL(fileURLWithPath: out)
    let base = outURL.deletingPathExtension()
    try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
    var results: [String: Any] = ["members": sources, "embedding_width": ensemble.embeddingWidth]
    if let pool { results["zeroshot_heldout_archs"] = try zeroShot(ensemble, urls: urls, pool: pool) }
    try saveConfig(
      EnsembleRecord(members: members, pool: pool, storage: storage), to: base.appendingPathExtension("config.json"))
    let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(json, to: base.appendingPathExtension("results.json"))
    try ensemble.save(to: outURL, extra: ["ensemble_sources": sourcesJSON], storage: storage)
    print("wrote \(out): \(ensemble.parts.count) extractors, \(ensemble.embeddingWidth)-d embeddings")
    print(String(decoding: json, as: UTF8.self))
  }

  /// A member argument: a checkpoint, or `ENSEMBLE@K`, the K-th part of an ensemble checkpoint.
  struct MemberReference: Equatable {
    var argument: String
    var path: String
    /// The part, from 1 in embedding order; nil for the whole checkpoint.
    var part: Int?
  }

  /// `PATH@K` names part K of PATH unless a file of that whole name exists.
  static func reference(_ argument: String) -> MemberReference {
    if let at = argument.lastIndex(of: "@"), let k = Int(argument[argument.index(after: at)...]),
      !FileManager.default.fileExists(atPath: argument)
    {
      return MemberReference(argument: argument, path: String(argument[..<at]), part: k)
    }
    return MemberReference(argument: argument, path: argument, part: nil)
  }

  /// The extractor a member argument names.
  /// - Throws: the checkpoint's load error, or ``InputError`` for a part the checkpoint does not hold.
  static func load(_ reference: MemberReference) throws -> Extractor {
    let extractor = try Extractor.load(from: URL(fileURLWithPath: reference.path))
    guard let k = reference.part else { return extractor }
    let parts = extractor.singleParts
    guard (1...parts.count).contains(k) else {
      throw InputError(
        "\(reference.argument): \(reference.path) holds \(parts.count) extractor(s); give a part from 1 to "
          + "\(parts.count)")
    }
    return parts[k - 1]
  }

  /// Zero-shot 1:N on the members' held-out architectures of `pool`, as `modelprint train` scores it.
  private func zeroShot(_ ensemble: Extractor, urls: [URL], pool: String) throws -> [String: Double] {
    guard ensemble.inputs.count == 1 else {
      throw InputError(
        "--pool measures members that take one input; these take \(ensemble.inputs.count) input settings "
          + "(windows of " + ensemble.inputs.map { "\($0.size) px" }.joined(separator: ", ") + ")")
    }
    let configs: [ExtractorConfig] = try zip(members, urls).map { path, url in
      guard let text = try Safetensors.read(url).metadata["config"],
        let config = try? JSONDecoder().decode(ExtractorConfig.self, from: Data(text.utf8))
      else {
        throw InputError(
          "\(path) records no training settings (metadata 'config'): --pool cannot tell what it held out")
      }
      return config
    }
    let store = try PoolStore(existing: URL(fileURLWithPath: pool))
    let tiles = try TileSet.read(store.tilesURL, size: store.manifest.config.size)
    guard tiles.size == ensemble.input.size else {
      throw InputError("\(pool) holds \(tiles.size) px tiles; the members take \(ensemble.input.size) px")
    }
    let first = ExtractorTrainer(config: configs[0])
    Log.info("fingerprinting \(store.manifest.models.count) models of \(pool)")
    let set = try FingerprintedSet(
      store: store, tiles: tiles, perModel: configs[0].tilesPerModel, seed: configs[0].seed, group: SingleProcess())
    let held = first.heldOutArchitectures(set)
    for (path, config) in zip(members, configs) {
      let theirs = ExtractorTrainer(config: config).heldOutArchitectures(set)
      guard theirs == held else {
        throw InputError(
          "\(path) held out other architectures of \(pool) than \(members[0]): the zero-shot figure would count "
            + "architectures one member trained on")
      }
    }
    let score = first.zeroShot(ensemble, set, classes: first.split(set).heldOut)
    Log.info(String(format: "zero-shot 1:N on %d held-out architectures: %.3f", held.count, score.accuracy))
    return ["acc_1n": score.accuracy, "f1_1n": score.macroF1]
  }
}

/// The resolved settings of one `modelprint ensemble` run, saved beside its output.
struct EnsembleRecord: Codable {
  var members: [String]
  var pool: String?
  var storage: Safetensors.Storage
}
