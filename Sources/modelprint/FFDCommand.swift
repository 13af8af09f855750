import ArgumentParser
import Foundation
import Imaging
import NN
import Spectral
import Synthesis
import Tensor

/// `modelprint ffd`: the Fréchet Frequency Distance between real generators and a synthetic pool.
struct FFDCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ffd",
    abstract: "Fréchet Frequency Distance between real generative models and the synthetic pool (paper Table II).",
    discussion: """
      Each model is represented by the mean 1-D azimuthal spectrum (dB per radius) of the noise residuals
      of N of its images, centre-cropped to --size. Real models are the folders of --real (their first N
      images in sorted order); synthetic models get N textured tiles of --size px cut from the photos of
      --images (fixed seed, the same tiles for every model), run through the model and rounded to 8 bits.
      The FFD is the Fréchet distance (squared, as FID) between Gaussians fitted to the two sets of
      representations. --ablation adds the paper's subsets: w/o K, L, S, U, A, N and seed.
      """)

  /// The resolved settings and results, saved with --out.
  struct Result: Codable {
    var real: String
    var synthetic: String
    var images: String
    var perModel: Int
    var size: Int
    var residual: String
    var realModels: [String: Int]
    var ffd: [String: Double]
    var syntheticModels: [String: Int]
    var seconds: Double
  }

  /// The paper's Table II, for side-by-side printing.
  static let paperTableII: [Ablation: Double] = [
    .all: 3.30, .withoutK: 3.57, .withoutL: 3.41, .withoutS: 3.51, .withoutU: 9.81, .withoutA: 4.46, .withoutN: 3.02,
    .withoutSeed: 3.39,
  ]

  @Option(help: "Folder of real models' images (ROOT/<model>/<image>).") var real: String
  @Option(help: "Synthetic pool folder from `modelprint synthesize`.") var synthetic: String
  @Option(help: "Folder of real photos to feed the synthetic models.") var images: String = "data/photos"
  @Option(help: "Images per model (the paper uses 100).") var perModel: Int = 100
  @Option(help: "Centre crop side in pixels (a multiple of 4).") var size: Int = 128
  @Flag(help: "Also compute the ablation subsets (w/o K, L, S, U, A, N, seed) as in the paper's Table II.")
  var ablation = false
  @Option(help: "Write the settings, results and per-model profiles as JSON to this file.") var out: String?
  @OptionGroup var residualOptions: ResidualOptions
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard size >= 8, size <= 2048, size % 4 == 0 else {
      throw ValidationError("--size must be a multiple of 4 from 8 to 2048, got \(size)")
    }
    guard perModel >= 2 else { throw ValidationError("--per-model must be at least 2") }
  }

  func run() throws {
    try common.apply()
    let start = Date()
    let extractor = try residualOptions.extractor()
    let decoder = ImageDecoder()
    let realSets = try ImageFiles.models(in: URL(fileURLWithPath: real))
    var realProfiles: [(String, [Float])] = []
    var realCounts: [String: Int] = [:]
    for set in realSets {
      let batch = decoder.decodeAll(Array(set.files.prefix(perModel)))
      for f in batch.failures { Log.info("  skipped \(f.error)") }
      guard !batch.images.isEmpty else { continue }
      var summary = SpectralSummary(side: size, keepsSpectrum: false)
      let crops = batch.images.map { $0.image.centerSquare(size) }
      summary.add(crops, residual: extractor)
      realProfiles.append((set.name, summary.meanProfile))
      realCounts[set.name] = crops.count
    }
    guard realProfiles.count >= 2 else {
      throw InputError("\(real) has \(realProfiles.count) readable model folder(s); the FFD needs at least 2")
    }
    Log.info("real: \(realProfiles.count) models, \(realCounts.values.min()!)–\(realCounts.values.max()!) images each")

    let store = try PoolStore(existing: URL(fileURLWithPath: synthetic))
    let photos = try ImageFiles.collect([images])
    let tiles = try TileSet.cut(from: photos, count: perModel, size: size, seed: 1) { Log.info("  skipped \($0)") }
    let inputs = (0..<tiles.count).map { tiles.image($0) }
    var synthetic: [(PoolEntry, [Float])] = []
    let progress = Progress(total: Double(store.manifest.models.count), label: "ffd")
    for (i, entry) in store.manifest.models.enumerated() {
      let model = try store.load(entry)
      var summary = SpectralSummary(side: size, keepsSpectrum: false)
      summary.add(inputs, residual: extractor) { model.fingerprint($0) }
      synthetic.append((entry, summary.meanProfile))
      progress.advance(by: 1, count: "\(i + 1)/\(store.manifest.models.count)", detail: entry.key)
    }
    progress.finish()

    let realStats = try FrechetDistance.Statistics(vectors: realProfiles.map(\.1), name: "the real models")
    var ffd: [String: Double] = [:]
    var counts: [String: Int] = [:]
    // The extended space's own ablations (w/o C, R) only for a pool that has its architectures.
    let extended = synthetic.contains { (try? Architecture(id: $0.0.architecture))?.isPaper == false }
    let order = ablation ? (extended ? Ablation.allCases : Ablation.paper) : [.all]
    for a in order {
      let subset = synthetic.filter { e in
        (try? Architecture(id: e.0.architecture)).map { a.includes($0, seed: e.0.seed) } ?? false
      }
      let stats = try FrechetDistance.Statistics(vectors: subset.map(\.1), name: "the synthetic models (\(a.rawValue))")
      ffd[a.rawValue] = try FrechetDistance.squared(realStats, stats)
      counts[a.rawValue] = subset.count
    }
    print("| Models | " + order.map { $0 == .all ? "All" : $0.rawValue }.joined(separator: " | ") + " |")
    print("|---|" + order.map { _ in "---:" }.joined(separator: "|") + "|")
    print(
      "| FFD (ModelPrint) | " + order.map { String(format: "%.2f", ffd[$0.rawValue]!) }.joined(separator: " | ") + " |")
    print("| synthetic models | " + order.map { "\(counts[$0.rawValue]!)" }.joined(separator: " | ") + " |")
    print(
      "| FFD (paper, Table II) | "
        + order.map { Self.paperTableII[$0].map { String(format: "%.2f", $0) } ?? "—" }.joined(separator: " | ") + " |")
    let result = Result(
      real: real, synthetic: self.synthetic, images: images, perModel: perModel, size: size,
      residual: residualOptions.residual, realModels: realCounts, ffd: ffd, syntheticModels: counts,
      seconds: Date().timeIntervalSince(start))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(result), as: UTF8.self))
    if let out {
      struct Saved: Codable {
        var result: Result
        var realProfiles: [String: [Float]]
        var syntheticProfiles: [String: [Float]]
      }
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
      let saved = Saved(
        result: result, realProfiles: Dictionary(uniqueKeysWithValues: realProfiles),
        syntheticProfiles: Dictionary(uniqueKeysWithValues: synthetic.map { ($0.0.key, $0.1) }))
      try AtomicFile.write(try encoder.encode(saved), to: URL(fileURLWithPath: out))
    }
  }
}
