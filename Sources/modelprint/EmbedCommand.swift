import ArgumentParser
import Fingerprint
import Foundation
import Imaging

/// `modelprint embed`: fingerprint embeddings of images.
struct EmbedCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "embed",
    abstract: "Fingerprint embeddings of images: the mean over an N × N grid of windows spread edge to edge.")

  @Argument(help: "Image files or folders.") var images: [String]
  @Option(help: "Extractor checkpoint from `modelprint train` (default: the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Windows per side (N × N windows; smaller images are scaled up first).")
  var windows: Int = Extractor.defaultGrid
  @Flag(help: "One JSON object per image (path, embedding) instead of a summary line.") var json = false
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard (1...maxWindowsPerSide).contains(windows) else {
      throw ValidationError("--windows must be between 1 and \(maxWindowsPerSide), got \(windows)")
    }
  }

  func run() throws {
    try common.apply()
    let ex = try Extractor.load(from: URL(fileURLWithPath: try Shipped.path(extractor, default: Shipped.extractor)))
    let files = try imageFiles(images)
    let decoded = ImageDecoder().decodeAll(files)
    for f in decoded.failures { Log.info("skipped \(f.error)") }
    let embeddings = ex.embed(images: decoded.images.map(\.image), grid: windows)
    for (entry, e) in zip(decoded.images, embeddings) {
      if json {
        let object: [String: Any] = ["path": entry.url.path, "embedding": e.map(Double.init)]
        print(
          String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
      } else {
        let norm = e.reduce(0) { $0 + $1 * $1 }.squareRoot()
        print("\(entry.url.path): \(e.count)-d embedding, norm \(String(format: "%.3f", norm))")
      }
    }
    if !decoded.failures.isEmpty {
      Log.info("\(decoded.failures.count) of \(files.count) files skipped")
      throw ExitCode(1)
    }
  }
}
