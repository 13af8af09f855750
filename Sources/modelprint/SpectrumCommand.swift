import ArgumentParser
import Attribution
import Foundation
import Imaging
import Reports
import Spectral
import Tensor

/// `modelprint spectrum`: mean spectra of each model's images (the paper's Fig. 2) and their 1-D
/// azimuthal profiles.
struct SpectrumCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "spectrum",
    abstract: "Mean noise-residual spectra per model folder: PNG per model, one SVG chart and a CSV of 1-D spectra.",
    discussion: """
      INPUTS is a folder of model folders (ROOT/<model>/<image>), or folders and image files: each folder
      is one set, loose files form the set "images". Each image is centre-cropped to --size (smaller
      images to their shorter side), its residual taken (image − 3×3 box blur, or a learned denoiser),
      and |FFT2| averaged per set. Unreadable files are listed and skipped.
      """)

  /// The resolved settings, saved as `config.json` beside the outputs.
  struct Config: Codable {
    var inputs: [String]
    var residual: String
    var denoiser: String?
    var size: Int
    var perModel: Int
    var threads: Int
  }

  @Argument(help: "A folder of model folders, or folders and image files.")
  var inputs: [String]

  @Option(name: .shortAndLong, help: "Output folder (created if missing).")
  var out: String

  @OptionGroup var residualOptions: ResidualOptions

  @Option(help: "Centre crop side in pixels.")
  var size: Int = 256

  @Option(help: "Images per set at most (the first ones in sorted order).")
  var perModel: Int = 100

  @OptionGroup var common: CommonOptions

  /// The smallest crop side a spectrum is taken at; smaller images are reported and left out.
  static let minimumSide = 8

  func validate() throws {
    guard size >= Self.minimumSide else { throw ValidationError("--size must be at least \(Self.minimumSide)") }
    guard perModel >= 1 else { throw ValidationError("--per-model must be at least 1") }
  }

  /// The sets to analyse: model folders of a single root, else one set per argument folder.
  func sets() throws -> [(name: String, files: [URL])] {
    var isRoot: ObjCBool = false
    if inputs.count == 1, FileManager.default.fileExists(atPath: inputs[0], isDirectory: &isRoot), isRoot.boolValue {
      let models = try ImageFiles.models(in: URL(fileURLWithPath: inputs[0]))
      if !models.isEmpty { return models }
    }
    var out: [(String, [URL])] = []
    var loose: [URL] = []
    for path in inputs {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw InputError("\(path): no such file or folder; give image files or folders holding them")
      }
      if isDir.boolValue {
        out.append(
          (
            URL(fileURLWithPath: path).lastPathComponent,
            try ImageFiles.list(URL(fileURLWithPath: path), recursive: true)
          ))
      } else {
        loose.append(URL(fileURLWithPath: path))
      }
    }
    if !loose.isEmpty { out.append(("images", loose)) }
    return out.filter { !$0.1.isEmpty }
  }

  func run() throws {
    try common.apply()
    let extractor = try residualOptions.extractor()
    let outDir = URL(fileURLWithPath: out)
    try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
    let sets = try sets()
    guard !sets.isEmpty else {
      throw InputError("no images found in \(inputs.joined(separator: ", ")); give image files or folders holding them")
    }
    var curves: [LineChart.Series] = []
    var csv = "set,radius,frequency,decibels\n"
    var failures = 0
    let decoder = ImageDecoder()
    for (index, set) in sets.enumerated() {
      var batch = decoder.decodeAll(Array(set.files.prefix(perModel)))
      for f in batch.failures { Log.info("  skipped \(f.error)") }
      batch.images = batch.images.filter { e in
        guard min(e.image.width, e.image.height) < Self.minimumSide else { return true }
        Log.info(
          "  skipped \(e.url.path): \(e.image.width)×\(e.image.height), smaller than the \(Self.minimumSide) px a spectrum needs"
        )
        failures += 1
        return false
      }
      failures += batch.failures.count
      guard !batch.images.isEmpty else {
        Log.info("[\(index + 1)/\(sets.count)] \(set.name): no readable images, skipped")
        continue
      }
      let side = min(size, batch.images.map { min($0.image.width, $0.image.height) }.min()!)
      let crops = batch.images.map { $0.image.centerSquare(side) }
      var summary = SpectralSummary(side: side)
      summary.add(crops, residual: extractor)
      let meanLog = summary.meanLogSpectrum
      let profile = summary.meanProfile.map(Double.init)
      let heat = Heatmap(width: side, height: side, values: meanLog)
      let name = set.name.replacingOccurrences(of: "/", with: "_")
      try ImageEncoder.png(heat.image()).write(to: outDir.appendingPathComponent("\(name).png"), options: .atomic)
      let freq = profile.indices.map { Double($0) / Double(side / 2) }
      curves.append(LineChart.Series(name: set.name, x: freq, y: profile))
      for (i, v) in profile.enumerated() { csv += "\(set.name),\(i),\(freq[i]),\(v)\n" }
      Log.info("[\(index + 1)/\(sets.count)] \(set.name): \(crops.count) images at \(side)×\(side)")
    }
    let chart = LineChart(
      title: "Mean 1-D spectra of noise residuals (\(residualOptions.residual))",
      xLabel: "frequency (fraction of Nyquist)",
      yLabel: "mean 20·log10|F| (dB)", series: curves)
    try chart.svg.write(to: outDir.appendingPathComponent("spectra.svg"), atomically: true, encoding: .utf8)
    try csv.write(to: outDir.appendingPathComponent("spectra.csv"), atomically: true, encoding: .utf8)
    try saveConfig(
      Config(
        inputs: inputs, residual: residualOptions.residual, denoiser: try residualOptions.denoiserPath(), size: size,
        perModel: perModel, threads: common.resolvedThreads),
      to: outDir.appendingPathComponent("config.json"))
    print("wrote \(curves.count) spectra to \(outDir.path): <set>.png, spectra.svg, spectra.csv, config.json")
    // The spectra of the readable images are written; the status says that some files were not.
    if failures > 0 {
      Log.info("\(failures) file(s) skipped")
      throw ExitCode(1)
    }
  }
}

/// The noise-residual choice shared by the spectral commands.
struct ResidualOptions: ParsableArguments {
  @Option(help: "Residual: highpass (image − 3×3 box blur) or denoiser (a learned DnCNN, see --denoiser).")
  var residual: String = "highpass"

  @Option(
    help:
      "Denoiser weights from `modelprint train-denoiser` (with --residual denoiser; default: the shipped \(Shipped.denoiser))."
  )
  var denoiser: String?

  func validate() throws {
    guard ["highpass", "denoiser"].contains(residual) else {
      throw ValidationError("--residual must be highpass or denoiser, got '\(residual)'")
    }
    if residual != "denoiser" && denoiser != nil {
      throw ValidationError("--denoiser is used with --residual denoiser only")
    }
  }

  /// The denoiser checkpoint used (the one given, else the shipped one); nil for the high-pass residual.
  func denoiserPath() throws -> String? {
    residual == "denoiser" ? try Shipped.path(denoiser, default: Shipped.denoiser) : nil
  }

  func extractor() throws -> any ResidualExtractor {
    guard let path = try denoiserPath() else { return HighPassResidual() }
    return try LearnedDenoiser.load(from: URL(fileURLWithPath: path))
  }
}
