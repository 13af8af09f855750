import ArgumentParser
import Attribution
import Foundation

/// `modelprint identify`: which enrolled model made each image (or none of them).
struct IdentifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "identify",
    abstract: "Rank a gallery's models for each image by cosine similarity of fingerprints.",
    discussion: """
      An image is "unknown" when its best score is below the gallery's open-set threshold (set by
      `modelprint calibrate`; without it every image gets its best match). Unreadable files are reported
      and skipped.
      """)

  @Option(help: "Gallery file.") var gallery: String
  @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Models to list per image.") var top = 5
  @Flag(help: "One JSON object per image (path, unknown, threshold, candidates).") var json = false
  @Flag(help: .hidden) var timing = false
  @Argument(help: "Image files or folders.") var images: [String]
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard top >= 1 else { throw ValidationError("--top must be at least 1") }
  }

  func run() throws {
    try common.apply()
    let url = URL(fileURLWithPath: gallery)
    guard FileManager.default.fileExists(atPath: url.path) else { throw GalleryError.missing(path: url.path) }
    let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
    let g = try Gallery(at: url, extractor: embedder.identity, create: false)
    // --timing measures what a loaded service would spend per request: decoding, embedding and search.
    let start = DispatchTime.now().uptimeNanoseconds
    let files = try imageFiles(images)
    let (embedded, failed) = embedder.embed(files: files, label: "identify")
    var warned = false
    for (file, embedding) in embedded {
      let r = try g.identify(embedding, top: top)
      if json {
        var object: [String: Any] = [
          "path": file.path, "unknown": r.isUnknown,
          "candidates": r.candidates.map { ["model": $0.model, "score": Double($0.score)] },
        ]
        if let t = r.threshold { object["threshold"] = Double(t) }
        print(try jsonLine(object))
      } else {
        let verdict = r.isUnknown ? "unknown (best below \(formatScore(r.threshold!)))" : r.candidates[0].model
        print("\(file.path): \(verdict)")
        for c in r.candidates { print("  \(formatScore(c.score))  \(c.model)") }
      }
      if r.threshold == nil && !warned {
        Log.info("the gallery is not calibrated, so no image is called unknown; run `modelprint calibrate`")
        warned = true
      }
    }
    if timing {
      let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
      Log.info(
        String(format: "identify: %d images in %.1f ms after loading the extractor and gallery", files.count, ms))
    }
    if failed > 0 {
      Log.info("\(failed) of \(files.count) files skipped")
      throw ExitCode(1)
    }
  }
}
