import ArgumentParser
import Attribution
import Foundation
import Synthesis

/// `modelprint identify`: which enrolled model made each image (or none of them).
struct IdentifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "identify",
    abstract: "Rank a gallery's models for each image by cosine similarity of fingerprints.",
    discussion: """
      An image is "unknown" when its best score is below the gallery's open-set threshold (set by
      `modelprint calibrate`; without it every image gets its best match). Unreadable files are reported
      and skipped.

      Batch attribution over a job array: `--list FILES.txt --shard i/n --out part-i.jsonl`
      identifies the list's entries whose 0-based index mod n is i (blank and # lines ignored;
      relative paths are relative to the list's folder) and writes one JSON line per entry, with its
      index, or an error line for a file that cannot be used. Lines are fsynced every 16 images; a
      restart with the same flags cuts off a torn last line and skips what the file already holds.
      The exit status is 0 when every entry of the shard has a line. Join the parts with
      `modelprint merge-results`.
      """)

  @Option(help: "Gallery file.") var gallery: String
  @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Models to list per image.") var top = 5
  @Flag(help: "One JSON object per image (path, unknown, threshold, candidates).") var json = false
  @Flag(help: .hidden) var timing = false
  @Option(help: "A file of image paths, one per line (batch mode: needs --out).") var list: String?
  @Option(help: "With --list: the part i/n of the list to identify (entries with index mod n == i).")
  var shard: String?
  @Option(help: "With --list: the JSON Lines results file, resumed when it exists.") var out: String?
  @Argument(help: "Image files or folders.") var images: [String] = []
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    guard list != nil else {
      if shard != nil || out != nil { throw ValidationError("--shard and --out need --list FILES.txt") }
      guard !images.isEmpty else { throw ValidationError("give image files or folders, or --list FILES.txt") }
      return
    }
    guard images.isEmpty else {
      throw ValidationError("give either image arguments or --list FILES.txt, not both")
    }
    guard out != nil else {
      throw ValidationError("--list needs --out FILE.jsonl: the results file a restarted shard resumes")
    }
    if let shard {
      do { _ = try Shard(shard) } catch { throw ValidationError("\(error)") }
    }
  }

  func run() throws {
    try common.apply()
    // The list is checked before the extractor loads, so a wrong list fails at once.
    let imageList = try list.map { try ImageList(path: $0) }
    let url = URL(fileURLWithPath: gallery)
    guard FileManager.default.fileExists(atPath: url.path) else { throw GalleryError.missing(path: url.path) }
    let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
    let g = try Gallery(at: url, extractor: embedder.identity, create: false)
    if let imageList, let out {
      let shard = try Shard(self.shard ?? "0/1")
      try BatchIdentify(
        list: imageList, shard: shard, out: URL(fileURLWithPath: out), embedder: embedder, gallery: g,
        top: top
      ).run()
      return
    }
    // --timing measures what a loaded service would spend per request: decoding, embedding and search.
    let start = DispatchTime.now().uptimeNanoseconds
    let files = try imageFiles(images)
    let (embedded, failed) = embedder.embed(files: files, label: "identify")
    var warned = false
    for (file, embedding) in embedded {
      let r = try g.identify(embedding, top: top)
      if json {
        print(try jsonLine(identificationObject(path: file.path, r)))
      } else {
        let decided = r.openSetScore.map { "score in the gallery's context \(formatScore($0))" } ?? "best"
        let verdict =
          r.isUnknown ? "unknown (\(decided) below \(formatScore(r.threshold!)))" : r.candidates[0].model
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
