import ArgumentParser
import Attribution
import Evaluation
import Foundation
import Imaging

/// `modelprint verify`: whether two images come from the same model.
struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Whether two images come from the same generative model: a similarity score against a threshold.",
    discussion: """
      The threshold is --threshold, else the gallery's calibrated verification threshold (--gallery),
      else none: the score is printed without a decision.

      Without --gallery the score is the cosine of the two embeddings. With --gallery (in the gallery
      metric, the default for new galleries) the pair is scored in the gallery's context: both embeddings
      centred on the mean of the gallery's models and whitened by their within-model scatter, which
      separates same-model from different-model pairs much better (see docs/accuracy.md); a calibration
      stored before that scoring existed keeps plain cosine until `modelprint calibrate` is run again.
      """)

  @Argument(help: "First image.") var a: String
  @Argument(help: "Second image.") var b: String
  @Option(help: "Gallery whose extractor and calibrated threshold to use.") var gallery: String?
  @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Decision threshold on the cosine score (same iff score ≥ threshold).") var threshold: Float?
  @Flag(help: "One JSON object (score, threshold, same).") var json = false
  @OptionGroup var common: CommonOptions

  func validate() throws {
    if let threshold, !threshold.isFinite {
      throw ValidationError("--threshold must be a number (a cosine score, -1 to 1), got \(threshold)")
    }
  }

  func run() throws {
    try common.apply()
    let galleryURL = gallery.map { URL(fileURLWithPath: $0) }
    let embedder = try Embedder.resolve(explicit: extractor, gallery: galleryURL)
    let decoder = ImageDecoder()
    let images = try [a, b].map { path in
      let url = URL(fileURLWithPath: path)
      if let reason = ImageFiles.unopenableReason(url) { throw ImageError.unreadable(path: path, reason: reason) }
      return try decoder.decode(contentsOf: url)
    }
    let e = embedder.embed(images)
    let v: Verification
    if let galleryURL {
      v = try Gallery(at: galleryURL, extractor: embedder.identity, create: false).verify(
        e[0], e[1], threshold: threshold)
    } else {
      v = Verification(score: Vectors.cosine(e[0], e[1]), threshold: threshold)
    }
    if json {
      var object: [String: Any] = ["a": a, "b": b, "score": Double(v.score), "scoring": v.scoring.rawValue]
      if let t = v.threshold { object["threshold"] = Double(t) }
      if let same = v.same { object["same"] = same }
      print(try jsonLine(object))
      return
    }
    if v.scoring == .gallery { print("scored in the gallery's context (\(gallery!))") }
    switch v.same {
    case true?: print("same model: score \(formatScore(v.score)) ≥ threshold \(formatScore(v.threshold!))")
    case false?: print("different models: score \(formatScore(v.score)) < threshold \(formatScore(v.threshold!))")
    case nil:
      print("score \(formatScore(v.score)) (no threshold: pass --threshold, or --gallery of a calibrated gallery)")
    }
  }
}
