import ArgumentParser
import Foundation
import Imaging
import NN
import Reports
import Spectral
import Synthesis
import Tensor

/// Pool models selected by `--models` (architecture ids, or `ID/seed-S`); all when empty.
func selectModels(_ store: PoolStore, _ spec: String?) throws -> [PoolEntry] {
  guard let spec, !spec.isEmpty, spec != "all" else { return store.manifest.models }
  var out: [PoolEntry] = []
  for item in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
    // `seed-S`: that seed of every architecture (e.g. models a given extractor never trained on).
    let seed = item.hasPrefix("seed-") ? Int(item.dropFirst("seed-".count)) : nil
    let matches = store.manifest.models.filter { $0.key == item || $0.architecture == item || $0.seed == seed }
    guard !matches.isEmpty else {
      throw InputError(
        "no model '\(item)' in the pool \(store.root.path) (give an architecture id, ID/seed-S or seed-S)")
    }
    out += matches
  }
  return out
}

/// `modelprint generate`: real images through synthetic models, saved as image folders.
struct GenerateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Run real images through pool models and save their outputs as 8-bit PNG folders (one per model).",
    discussion: """
      Each image under --images is scaled so that its shorter side is --size and centre-cropped, then
      passed through every selected model (eval mode) and saved as OUT/<arch>-s<seed>/NNN.png; the inputs
      go to OUT/real/. The folders are a folder-per-model set, so `modelprint spectrum OUT` and the
      evaluation commands read them like real generators' images. --contact-sheet writes one PNG: a row of
      inputs, then per model a row of its outputs ending in its mean residual spectrum.
      """)

  /// The resolved settings, saved as `config.json` beside the outputs.
  struct Config: Codable {
    var pool: String
    var images: String
    var models: [String]
    var perModel: Int
    var size: Int
    var quantize: Bool
  }

  @Option(help: "Pool folder from `modelprint synthesize`.") var pool: String
  @Option(help: "Folder of real images (or photos) to feed the models.") var images: String = "data/photos"
  @Option(name: .shortAndLong, help: "Output folder (created if missing).") var out: String
  @Option(
    help: "Models: all, or comma-separated architecture ids (every seed), ID/seed-S, or seed-S (every architecture).")
  var models: String?
  @Option(help: "Images per model (the first ones in sorted order).") var perModel: Int = 16
  @Option(help: "Image side in pixels (a multiple of 4).") var size: Int = 128
  @Option(help: "Also write a contact sheet (PNG, or JPEG for .jpg) of the outputs and their mean spectra.")
  var contactSheet: String?
  @Option(help: "Images per row of the contact sheet.") var columns: Int = 6
  @Flag(help: "Keep the raw float outputs instead of rounding to 8 bits before saving statistics.")
  var noQuantize = false
  @Flag(help: "Do not write the inputs to OUT/real/ (a set of synthetic models only, e.g. for `modelprint whiten`).")
  var noInputs = false
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard size >= 8, size <= 2048, size % 4 == 0 else {
      throw ValidationError("--size must be a multiple of 4 from 8 to 2048, got \(size)")
    }
    guard perModel >= 1, columns >= 1 else { throw ValidationError("--per-model and --columns must be at least 1") }
  }

  func run() throws {
    try common.apply()
    let store = try PoolStore(existing: URL(fileURLWithPath: pool))
    let selected = try selectModels(store, models)
    let files = Array(try ImageFiles.collect([images]).prefix(perModel))
    let decoded = ImageDecoder().decodeAll(files)
    for f in decoded.failures { Log.info("skipped \(f.error)") }
    guard !decoded.images.isEmpty else {
      throw InputError("no readable images under \(images); give a folder of .jpg, .png or .webp images")
    }
    let inputs = decoded.images.map { $0.image.fittedSquare(size).quantized() }
    let outDir = URL(fileURLWithPath: out)
    if !noInputs { try write(inputs, to: outDir.appendingPathComponent("real")) }
    var sheet: [[Image]] = [Array(inputs.prefix(columns))]
    let progress = Progress(total: Double(selected.count), label: "generate")
    for (i, entry) in selected.enumerated() {
      let model = try store.load(entry)
      let outputs = model.fingerprint(inputs, quantize: !noQuantize)
      let name = "\(entry.architecture)-s\(entry.seed)"
      try write(outputs, to: outDir.appendingPathComponent(name))
      if contactSheet != nil {
        var summary = SpectralSummary(side: size)
        summary.add(outputs, residual: HighPassResidual())
        sheet.append(
          Array(outputs.prefix(columns)) + [Heatmap(width: size, height: size, values: summary.meanLogSpectrum).image()]
        )
      }
      progress.advance(by: 1, count: "\(i + 1)/\(selected.count)", detail: name)
    }
    progress.finish()
    if let contactSheet {
      let image = ContactSheet.make(sheet)
      let lower = contactSheet.lowercased()
      let data =
        lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
        ? try ImageEncoder.jpeg(image, quality: 90) : try ImageEncoder.png(image)
      try AtomicFile.write(data, to: URL(fileURLWithPath: contactSheet))
    }
    try saveConfig(
      Config(
        pool: pool, images: images, models: selected.map(\.key), perModel: inputs.count, size: size,
        quantize: !noQuantize),
      to: outDir.appendingPathComponent("config.json"))
    print(
      "wrote \(inputs.count) images for each of \(selected.count) model(s) to \(outDir.path)"
        + (contactSheet.map { "; contact sheet \($0)" } ?? ""))
    if !decoded.failures.isEmpty {
      Log.info("\(decoded.failures.count) of \(files.count) files skipped")
      throw ExitCode(1)
    }
  }

  func write(_ images: [Image], to dir: URL) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (i, img) in images.enumerated() {
      try ImageEncoder.png(img).write(to: dir.appendingPathComponent(String(format: "%03d.png", i)), options: .atomic)
    }
  }
}
