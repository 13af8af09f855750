import Foundation
import Imaging
import NN
import Spectral
import Tensor

/// A trained fingerprint extractor: the network and the input settings it was trained with.
///
/// An ensemble is an extractor with ``members``: its embedding is the concatenation of its own and its
/// members' embeddings, each whitened by its own whitening, so every command and the server use one the
/// way they use a single network. Members may take other input settings (a 128 px network beside 64 px
/// ones): each embeds the same N × N grid of its own windows (``windows(_:grid:)``).
public final class Extractor {
  /// Checkpoint format version (metadata key `format_version` is the safetensors layer's).
  public static let formatVersion = 1

  public let network: ResNet
  public let input: SpectralInput
  /// Names of the training classes (pool model keys), in logit order.
  public let classes: [String]
  /// Applied to every image embedding (``embed(images:grid:batch:)``) when present.
  public let whitening: EmbeddingWhitening?
  /// Where the whitening was fitted (metadata `embedding_transform_source`), for the record.
  public let whiteningSource: String?
  /// The other extractors of an ensemble (empty for a single network): single networks, whose
  /// embeddings follow this one's, in order.
  public let members: [Extractor]
  /// The distinct input settings of the parts, in the order the parts first use them: one for a single
  /// network or an ensemble of one input, whose parts then share their windows and spectra. Stored, as
  /// every image's windows are cut by them.
  public let inputs: [SpectralInput]

  /// Windows per side of the grid an image is embedded with unless a caller says otherwise. 4 × 4 windows
  /// of 64 px tile a 256 px image without gaps where 3 × 3 leave 44 % of it unseen; with the whitening
  /// and the gallery metric that raised verification AUC by 0.02–0.03 on both measurement sets, for
  /// two extractors, and 5 × 5 to 8 × 8 added nothing more (docs/accuracy.md, seventh round).
  public static let defaultGrid = 4

  /// The most extractors an ensemble checkpoint may hold, this one included.
  public static let maxEnsemble = 8

  public init(
    network: ResNet, input: SpectralInput, classes: [String], whitening: EmbeddingWhitening? = nil,
    whiteningSource: String? = nil, members: [Extractor] = []
  ) {
    precondition(
      whitening.map { $0.dimension == network.embeddingWidth } ?? true,
      "Extractor: a whitening of width \(whitening?.dimension ?? 0) for embeddings of \(network.embeddingWidth)")
    precondition(
      members.allSatisfy { $0.members.isEmpty } && members.count < Self.maxEnsemble,
      "Extractor: an ensemble's \(members.count) members must be single networks")
    self.network = network
    self.input = input
    self.classes = classes
    self.whitening = whitening
    self.whiteningSource = whiteningSource
    self.members = members
    self.inputs = members.reduce(into: [input]) { found, member in
      if !found.contains(member.input) { found.append(member.input) }
    }
  }

  /// The same network, input and members with `whitening` (nil removes it).
  public func with(whitening: EmbeddingWhitening?, source: String?) -> Extractor {
    Extractor(
      network: network, input: input, classes: classes, whitening: whitening, whiteningSource: source,
      members: members)
  }

  /// The same network, input and whitening with `members` instead of this one's.
  func with(members: [Extractor]) -> Extractor {
    Extractor(
      network: network, input: input, classes: classes, whitening: whitening, whiteningSource: whiteningSource,
      members: members)
  }

  /// An ensemble of `extractors` (two or more single networks): the first one's network, classes,
  /// input settings and whitening, the others as its ``members``.
  ///
  /// - Throws: ``EnsembleError`` when there are fewer than two or more than ``maxEnsemble``, or one is
  ///   an ensemble itself.
  public static func ensemble(_ extractors: [Extractor]) throws -> Extractor {
    guard (2...maxEnsemble).contains(extractors.count) else { throw EnsembleError.count(extractors.count) }
    if let k = extractors.firstIndex(where: { !$0.members.isEmpty }) { throw EnsembleError.nested(member: k) }
    let first = extractors[0]
    return Extractor(
      network: first.network, input: first.input, classes: first.classes, whitening: first.whitening,
      whiteningSource: first.whiteningSource, members: Array(extractors.dropFirst()))
  }

  /// This extractor and its members, in embedding order.
  public var parts: [Extractor] { [self] + members }

  /// The single networks of this extractor in embedding order, each standalone with its own input and
  /// whitening: itself, or an ensemble's first network without its members, then the members.
  public var singleParts: [Extractor] { [with(members: [])] + members }

  /// Embedding width: the network's, or for an ensemble the sum over its parts.
  public var embeddingWidth: Int { parts.reduce(0) { $0 + $1.network.embeddingWidth } }

  /// The windows an image is embedded from, for an N × N `grid`: each of ``inputs``' grid of windows of
  /// its size, one input after the other (what ``imageEmbeddings(windows:perImage:batch:)`` takes, in
  /// groups of ``windowCount(grid:)`` per image).
  public func windows(_ image: Image, grid: Int) -> [Image] {
    inputs.flatMap { $0.windows(image, grid: grid) }
  }

  /// How many windows ``windows(_:grid:)`` cuts from one image.
  public func windowCount(grid: Int) -> Int { inputs.count * grid * grid }

  /// Embeddings [N, embedding width] of standardised inputs, batch by batch, in eval mode.
  ///
  /// Several threads may embed with one extractor at once (a server's requests): the network is left
  /// in eval mode after loading, so concurrent calls only read it. A network in training mode is put in
  /// eval mode first, which must not happen while another thread uses it.
  public func embed(spectra: Tensor, batch: Int = 256) -> [[Float]] {
    precondition(
      inputs.count == 1, "Extractor.embed(spectra:): the ensemble's parts take \(inputs.count) input settings")
    guard members.isEmpty else {
      let each = parts.map { $0.networkEmbeddings(spectra: spectra, batch: batch) }
      return (0..<spectra.shape[0]).map { i in each.flatMap { $0[i] } }
    }
    return networkEmbeddings(spectra: spectra, batch: batch)
  }

  /// ``embed(spectra:batch:)`` of this extractor's own network.
  private func networkEmbeddings(spectra: Tensor, batch: Int) -> [[Float]] {
    if network.isTraining { network.eval() }
    let n = spectra.shape[0]
    guard n > 0 else { return [] }
    let per = spectra.count / n
    var out: [[Float]] = []
    for start in stride(from: 0, to: n, by: batch) {
      let m = min(batch, n - start)
      let x = Tensor(uninitialized: [m, spectra.shape[1], spectra.shape[2], spectra.shape[3]])
      x.pointer.update(from: spectra.pointer + start * per, count: m * per)
      let e = withNoGrad { network.embed(x) }.toLayout(.plain, differentiable: false)
      let d = e.shape[1]
      let values = e.array
      for i in 0..<m { out.append(Array(values[(i * d)..<((i + 1) * d)])) }
    }
    return out
  }

  /// Window embeddings of `windows` (patch-size images; their spectra are computed here), in order.
  ///
  /// The windows are cut into `lanes` consecutive parts that run side by side, each on its share of the
  /// kernel threads (at least one). A layer split over every thread ends in a barrier where the threads
  /// wait for the slowest; lanes of one thread each have none, so for a batch of several images they
  /// run faster (ResNet-18 width 32, 72 windows on 2 cores: 2027 against 1508 windows/s in
  /// `modelprint-bench resnet-infer --batch 72 --lanes 2`), while a single image's 9 windows are
  /// quicker as one pass on all threads (1068 against 998). Values agree with one pass to rounding.
  public func embed(windows: [Image], lanes: Int) -> [[Float]] {
    let n = windows.count
    let lanes = max(1, min(lanes, n))
    guard lanes > 1 else { return n == 0 ? [] : embed(spectra: input(Image.batch(windows))) }
    let perLane = max(1, Threads.count / lanes)
    var parts = [[[Float]]](repeating: [], count: lanes)
    parts.withUnsafeMutableBufferPointer { slots in
      Threads.parallelFor(lanes) { l in
        let part = Array(windows[(n * l / lanes)..<(n * (l + 1) / lanes)])
        slots[l] = Threads.withCount(perLane) { embed(spectra: input(Image.batch(part))) }
      }
    }
    return parts.flatMap { $0 }
  }

  /// Image embeddings: the mean of the window embeddings of an n × n grid of patch-size windows, then
  /// the checkpoint's ``whitening`` when it has one (for an ensemble, each part's on its own slice).
  public func embed(images: [Image], grid: Int = defaultGrid, batch: Int = 256) -> [[Float]] {
    rawEmbeddings(images: images, grid: grid, batch: batch).map(finished)
  }

  /// An image's embedding from the mean of its window embeddings: the ``whitening`` applied when the
  /// checkpoint has one. Every path that averages windows itself (the server's batches) ends here, so its
  /// embeddings equal ``embed(images:grid:batch:)``'s.
  public func finished(_ windowMean: [Float]) -> [Float] {
    precondition(
      windowMean.count == embeddingWidth, "Extractor.finished: \(windowMean.count) values for \(embeddingWidth)")
    guard members.isEmpty else {
      var out: [Float] = []
      out.reserveCapacity(windowMean.count)
      var start = 0
      for part in parts {
        let end = start + part.network.embeddingWidth
        let slice = Array(windowMean[start..<end])
        out += part.whitening.map { $0(slice) } ?? slice
        start = end
      }
      return out
    }
    return whitening.map { $0(windowMean) } ?? windowMean
  }

  /// Image embeddings without the whitening: what a whitening is fitted on.
  public func rawEmbeddings(images: [Image], grid: Int = defaultGrid, batch: Int = 256) -> [[Float]] {
    let wins = windowCount(grid: grid)
    var out: [[Float]] = []
    for start in stride(from: 0, to: images.count, by: max(1, batch / wins)) {
      let chunk = images[start..<min(images.count, start + max(1, batch / wins))]
      out += imageEmbeddings(windows: chunk.flatMap { windows($0, grid: grid) }, perImage: wins, batch: batch)
    }
    return out
  }

  /// Unwhitened embeddings of images given as consecutive groups of `perImage` windows (as
  /// ``windows(_:grid:)`` cuts them), pooled as ``SpectralInput/pooling`` says: the mean of the window
  /// embeddings, or the embedding of the windows' mean spectrum. Every path that cuts windows itself (the
  /// server's batches) ends here, so its embeddings equal ``rawEmbeddings(images:grid:batch:)``'s.
  public func imageEmbeddings(windows: [Image], perImage: Int, batch: Int = 256) -> [[Float]] {
    precondition(
      perImage > 0 && windows.count % perImage == 0,
      "Extractor.imageEmbeddings: \(windows.count) windows in groups of \(perImage)")
    let images = windows.count / perImage
    guard images > 0 else { return [] }
    guard inputs.count == 1 else {
      // The parts of each input, as an ensemble of one input, embed that input's share of every image's
      // windows (one spectrum per window); their slices then go back into the parts' order.
      precondition(
        perImage % inputs.count == 0,
        "Extractor.imageEmbeddings: \(perImage) windows per image for \(inputs.count) input settings")
      let share = perImage / inputs.count
      var perPart = [[[Float]]](repeating: [], count: parts.count)
      for (k, input) in inputs.enumerated() {
        let group = parts.indices.filter { parts[$0].input == input }
        let mine: [Image] = (0..<images).flatMap { (i: Int) -> ArraySlice<Image> in
          let start = i * perImage + k * share
          return windows[start..<(start + share)]
        }
        let joined = parts[group[0]].with(members: group.dropFirst().map { parts[$0] })
          .imageEmbeddings(windows: mine, perImage: share, batch: batch)
        var start = 0
        for p in group {
          let width = parts[p].network.embeddingWidth
          perPart[p] = joined.map { Array($0[start..<(start + width)]) }
          start += width
        }
      }
      return (0..<images).map { i in perPart.flatMap { $0[i] } }
    }
    guard input.pooling == "spectrum" else {
      let e = embed(spectra: input(Image.batch(windows)), batch: batch)
      return (0..<images).map { Self.windowMean(e, image: $0, windowsPerImage: perImage) }
    }
    return embed(spectra: input(Image.batch(windows), averaging: perImage), batch: batch)
  }

  /// The mean of image `image`'s window embeddings in `windowEmbeddings` (its `windowsPerImage` rows in
  /// order). Every path that embeds windows itself (the server's batches) averages with this, so that
  /// its sums run in the same order as ``rawEmbeddings(images:grid:batch:)``'s.
  public static func windowMean(_ windowEmbeddings: [[Float]], image: Int, windowsPerImage: Int) -> [Float] {
    precondition(
      windowsPerImage > 0 && (image + 1) * windowsPerImage <= windowEmbeddings.count,
      "windowMean: image \(image) × \(windowsPerImage) windows of \(windowEmbeddings.count) rows")
    let rows = windowEmbeddings[(image * windowsPerImage)..<((image + 1) * windowsPerImage)]
    var m = [Float](repeating: 0, count: rows.first!.count)
    for row in rows { for j in m.indices { m[j] += row[j] / Float(windowsPerImage) } }
    return m
  }

  /// Saves weights and settings atomically; `extra` metadata is added (config, results). An ensemble's
  /// members go in the same file: member k's tensors under `member.k.` and its metadata as one JSON
  /// object under `member.k.metadata`. `storage` says how the tensors are stored: ``Safetensors/Storage/float16``
  /// halves the file (an ensemble of three ResNet-18 w32 fits in 18 MB) for embeddings that differ from
  /// Float32 weights' by rounding (docs/accuracy.md, eighth round).
  public func save(to url: URL, extra: [String: String] = [:], storage: Safetensors.Storage = .float32) throws {
    var (tensors, meta) = try contents(extra: extra)
    if !members.isEmpty {
      meta[Self.ensembleKey] = "\(members.count)"
      let encoder = JSONEncoder()
      encoder.outputFormatting = .sortedKeys
      for (k, member) in members.enumerated() {
        let (t, m) = try member.contents(extra: [:])
        for (name, tensor) in t { tensors[Self.memberPrefix(k + 1) + name] = tensor }
        meta[Self.memberPrefix(k + 1) + "metadata"] = String(decoding: try encoder.encode(m), as: UTF8.self)
      }
    }
    try Safetensors.write(tensors, metadata: meta, to: url, storage: storage)
  }

  /// The tensors and metadata of this extractor's own network and whitening.
  private func contents(extra: [String: String]) throws -> ([String: Tensor], [String: String]) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    var meta = extra
    meta["extractor_format"] = "\(Self.formatVersion)"
    meta["architecture"] = "resnet\(network.depth)"
    meta["width"] = "\(network.width)"
    meta["projection"] = "\(network.proj.weight.shape[0])"
    meta["input"] = String(decoding: try encoder.encode(input), as: UTF8.self)
    meta["classes"] = String(decoding: try encoder.encode(classes), as: UTF8.self)
    var tensors = network.stateDict()
    if let denoiser = input.denoiser {
      meta[Self.denoiserKey] = denoiser.architecture
      for (name, tensor) in denoiser.network.stateDict() { tensors[Self.denoiserPrefix + name] = tensor }
    }
    if let whitening {
      meta["embedding_transform"] = EmbeddingWhitening.kind
      meta["embedding_transform_source"] = whiteningSource ?? ""
      let d = whitening.dimension
      tensors[Self.whiteningMean] = Tensor(whitening.mean, shape: [d])
      tensors[Self.whiteningMatrix] = Tensor(whitening.matrix, shape: [d, d])
    }
    return (tensors, meta)
  }

  /// Metadata key of an ensemble's member count (the members besides the first extractor).
  static let ensembleKey = "ensemble_members"
  /// The prefix of member `k`'s tensors and metadata key (k ≥ 1; the first extractor has none).
  static func memberPrefix(_ k: Int) -> String { "member.\(k)." }

  /// The metadata key of an embedded denoiser's architecture and the prefix of its tensors (the
  /// `denoiser` residual's network travels inside the extractor checkpoint).
  static let denoiserKey = "denoiser_architecture"
  static let denoiserPrefix = "denoiser."

  /// Tensor names of the whitening in a checkpoint.
  static let whiteningMean = "whitening.mean"
  static let whiteningMatrix = "whitening.matrix"

  /// Loads a checkpoint written by ``save(to:extra:)``.
  ///
  /// - Throws: ``SafetensorsError`` naming the file when it is not a readable safetensors file, or
  ///   ``SafetensorsError/badCheckpoint(path:kind:reason:)`` when its metadata is missing, out of range or
  ///   disagrees with the tensors it holds.
  public static func load(from url: URL) throws -> Extractor {
    try load(Safetensors.read(url), name: url.path)
  }

  /// Builds the extractor a decoded checkpoint describes; `name` identifies the file in errors.
  ///
  /// The metadata is checked against the tensors before the network is built: the network's size comes
  /// from metadata, so a damaged width must be refused before it allocates, not after.
  public static func load(_ file: Safetensors.File, name: String) throws -> Extractor {
    func bad(_ reason: String) -> SafetensorsError { .badCheckpoint(path: name, kind: "extractor", reason: reason) }
    guard let count = file.metadata[ensembleKey] else { return try loadSingle(file, name: name) }
    guard let n = Int(count), (1..<maxEnsemble).contains(n) else {
      throw bad("its ensemble member count '\(count)' is not a whole number in 1...\(maxEnsemble - 1)")
    }
    var own = file
    own.metadata[ensembleKey] = nil
    var members: [Extractor] = []
    for k in 1...n {
      let prefix = memberPrefix(k)
      guard let text = own.metadata.removeValue(forKey: prefix + "metadata"),
        let meta = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
      else { throw bad("ensemble member \(k) has no metadata object under \(prefix)metadata") }
      guard meta[ensembleKey] == nil else { throw bad("ensemble member \(k) is an ensemble itself") }
      var tensors: [String: Tensor] = [:]
      for key in own.tensors.keys where key.hasPrefix(prefix) {
        tensors[String(key.dropFirst(prefix.count))] = own.tensors.removeValue(forKey: key)
      }
      do {
        members.append(try loadSingle(Safetensors.File(tensors: tensors, metadata: meta), name: name))
      } catch SafetensorsError.badCheckpoint(_, _, let reason) { throw bad("ensemble member \(k): \(reason)") }
    }
    if own.tensors.keys.contains(where: { $0.hasPrefix("member.") }) {
      throw bad("it holds tensors of ensemble members beyond its \(n)")
    }
    let first = try loadSingle(own, name: name)
    do { return try ensemble([first] + members) } catch { throw bad("\(error)") }
  }

  /// ``load(_:name:)`` of a single network's checkpoint.
  private static func loadSingle(_ file: Safetensors.File, name: String) throws -> Extractor {
    func bad(_ reason: String) -> SafetensorsError { .badCheckpoint(path: name, kind: "extractor", reason: reason) }
    let m = file.metadata
    guard m["extractor_format"] == "\(formatVersion)", let architecture = m["architecture"],
      let i = m["input"], let c = m["classes"]
    else {
      throw bad("its metadata lacks the extractor format, architecture, input settings or classes")
    }
    guard architecture.hasPrefix("resnet"), let depth = Int(architecture.dropFirst("resnet".count)),
      ResNet.depths.contains(depth)
    else {
      throw bad("architecture '\(architecture)' is not one of \(ResNet.depths.map { "resnet\($0)" })")
    }
    guard let w = m["width"].flatMap(Int.init), (1...maxWidth).contains(w) else {
      throw bad("width '\(m["width"] ?? "missing")' is not a whole number in 1...\(maxWidth)")
    }
    guard let p = m["projection"].flatMap(Int.init), (1...maxProjection).contains(p) else {
      throw bad("projection '\(m["projection"] ?? "missing")' is not a whole number in 1...\(maxProjection)")
    }
    var input: SpectralInput
    do { input = try JSONDecoder().decode(SpectralInput.self, from: Data(i.utf8)) } catch {
      throw bad("the input settings are not valid JSON of SpectralInput (\(error))")
    }
    var file = file
    let denoiserTensors = file.tensors.filter { $0.key.hasPrefix(denoiserPrefix) }
    if m[denoiserKey] != nil || !denoiserTensors.isEmpty {
      for key in denoiserTensors.keys { file.tensors[key] = nil }
      let weights = Dictionary(
        uniqueKeysWithValues: denoiserTensors.map { (String($0.key.dropFirst(denoiserPrefix.count)), $0.value) })
      do {
        input.denoiser = try LearnedDenoiser.build(architecture: m[denoiserKey], tensors: weights, name: name)
      } catch SafetensorsError.corrupted(_, let reason) { throw bad("its denoiser: \(reason)") }
    }
    if let problem = input.problem { throw bad("input settings: \(problem)") }
    guard let classes = try? JSONDecoder().decode([String].self, from: Data(c.utf8)), !classes.isEmpty else {
      throw bad("the class list is not a non-empty JSON array of names")
    }
    let embedding = (depth == 50 ? 8 * Bottleneck.expansion : 8) * w
    let expected: [(String, [Int])] = [
      ("stem.0.weight", [w, 3, 7, 7]), ("cls.weight", [classes.count, embedding]), ("proj.weight", [p, embedding]),
    ]
    for (tensor, shape) in expected where file.tensors[tensor]?.shape.dims != shape {
      let found = file.tensors[tensor].map { "\($0.shape.dims)" } ?? "missing"
      throw bad(
        "tensor \(tensor) is \(found), the metadata (width \(w), projection \(p), \(classes.count) classes) needs \(shape)"
      )
    }
    // The last stage's 3×3 convolutions alone hold 576·w² weights: a file with fewer floats cannot be
    // this network, and refusing it keeps the allocation below a small multiple of the file's size.
    let floats = file.tensors.values.reduce(0) { $0 + $1.count }
    guard floats >= 576 * w * w else {
      throw bad("\(floats) weights are too few for a \(architecture) of width \(w)")
    }
    var whitening: EmbeddingWhitening? = nil
    var tensors = file.tensors
    switch m["embedding_transform"] {
    case nil: break
    case EmbeddingWhitening.kind?:
      guard let mean = tensors.removeValue(forKey: whiteningMean),
        let matrix = tensors.removeValue(forKey: whiteningMatrix),
        mean.shape.dims == [embedding], matrix.shape.dims == [embedding, embedding]
      else {
        throw bad(
          "its \(EmbeddingWhitening.kind) whitening needs tensors \(whiteningMean) [\(embedding)] and \(whiteningMatrix) [\(embedding), \(embedding)]"
        )
      }
      do { whitening = try EmbeddingWhitening(mean: mean.array, matrix: matrix.array) } catch { throw bad("\(error)") }
    case let other?:
      throw bad("embedding transform '\(other)' is not one this build applies (\(EmbeddingWhitening.kind))")
    }
    var rng = RNG(seed: 0)
    let net = ResNet(depth: depth, width: w, classes: classes.count, projection: p, rng: &rng)
    do { try net.loadStateDict(tensors) } catch {
      throw bad("\(error)")
    }
    net.eval()
    return Extractor(
      network: net, input: input, classes: classes, whitening: whitening,
      whiteningSource: m["embedding_transform_source"])
  }

  /// The widest network a checkpoint may describe (16 times the standard ResNet's 64).
  public static let maxWidth = 1024
  /// The longest projection a checkpoint may describe.
  public static let maxProjection = 65536
}

/// Why extractors could not be joined into an ensemble.
public enum EnsembleError: Error, CustomStringConvertible, Equatable {
  case count(Int)
  case nested(member: Int)

  public var description: String {
    switch self {
    case .count(let n):
      return "an ensemble joins 2 to \(Extractor.maxEnsemble) extractors, got \(n)"
    case .nested(let k):
      return "extractor \(k + 1) is an ensemble already; join single extractors"
    }
  }
}
