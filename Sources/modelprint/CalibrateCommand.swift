import ArgumentParser
import Attribution
import Foundation
import Imaging

/// `modelprint calibrate`: decision thresholds for a gallery.
struct CalibrateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "calibrate",
    abstract: "Set a gallery's verification and open-set thresholds (at the equal error rate) from labelled images.",
    discussion: """
      The labelled images are the gallery's own enrolled images, or with --folder a folder of model
      folders (ROOT/<model>/<image>). Verification uses seeded image pairs, half same-model; open-set
      identification scores each image against its own model's fingerprint without it and against the
      best other model. Both thresholds at the EER and at FAR 1 % are stored; the EER ones are used.
      """)

  @Option(help: "Gallery file.") var gallery: String
  @Option(help: "A folder of model folders to calibrate on instead of the gallery's images.") var folder: String?
  @Option(help: "Extractor checkpoint for --folder (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Verification pairs, half same-model.") var pairs = 10_000
  @Option(help: "Seed of the pairs.") var seed: UInt64 = 0
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard pairs >= 2 else { throw ValidationError("--pairs must be at least 2") }
  }

  func run() throws {
    try common.apply()
    let url = URL(fileURLWithPath: gallery)
    let c: Calibration
    let g: Gallery
    var skipped = 0
    if let folder {
      let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
      g = try Gallery(at: url, extractor: embedder.identity, create: false)
      let set = try LabelledEmbeddings(root: folder, embedder: embedder)
      skipped = set.skipped
      c = try Calibration(embeddings: set.embeddings, labels: set.labels, pairs: pairs, seed: seed, source: folder)
      try g.store(c)
    } else {
      g = try Gallery(at: url, extractor: nil)
      c = try g.calibrate(pairs: pairs, seed: seed)
    }
    print("calibrated \(gallery) on \(c.images) images of \(c.models) models (\(c.source))")
    print("decision       EER      EER threshold  TAR@FAR1%  FAR1% threshold")
    for (name, p) in [("verification", c.verification), ("open set", c.openSet)] {
      let far = p.far1pctThreshold.map { String(format: "%.4f", $0) } ?? "none"
      print(
        name.padding(toLength: 13, withPad: " ", startingAt: 0)
          + String(format: "  %6.2f%%  %13.4f  %8.2f%%  ", p.eer * 100, p.eerThreshold, p.tarAtFar1pct * 100) + far)
    }
    if skipped > 0 {
      Log.info("\(skipped) files skipped")
      throw ExitCode(1)
    }
  }
}
