import ArgumentParser
import Attribution
import Foundation
import Imaging

/// `modelprint explain`: why an image was attributed to a model, in the spectral domain.
struct ExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain",
    abstract:
      "Explain an attribution: the image's residual spectrum beside the matched model's, and the bands that weighed most.",
    discussion: """
      Writes DIR/explanation.png (image spectrum, the model's mean spectrum, their difference; the
      marked bands' edges drawn as white rings), DIR/profiles.svg (1-D profiles) and DIR/bands.json
      (the bands with their distances and weights, and the identification). A band weighed most when
      the image's profile is close to the matched model's there and far from every other model's: a
      diagnostic on the spectra the extractor reads, not a decomposition of the network's decision.
      The same data as the server's POST /v1/explain.
      """)

  @Argument(help: "Image file.") var image: String
  @Option(help: "Gallery file.") var gallery: String
  @Option(help: "Folder to write the figure and JSON into (created).") var out: String
  @Option(help: "Explain against this model instead of the best match.") var model: String?
  @Option(help: "Frequency bands (equal rings from DC to the corner).") var bands = 8
  @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard (1...64).contains(bands) else { throw ValidationError("--bands must be in 1...64, got \(bands)") }
  }

  func run() throws {
    try common.apply()
    let url = URL(fileURLWithPath: gallery)
    guard FileManager.default.fileExists(atPath: url.path) else { throw GalleryError.missing(path: url.path) }
    let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
    let g = try Gallery(at: url, extractor: embedder.identity, create: false)
    let file = URL(fileURLWithPath: image)
    if let reason = ImageFiles.unopenableReason(file) { throw ImageError.unreadable(path: image, reason: reason) }
    let decoded = try ImageDecoder().decode(contentsOf: file)
    let r = try g.identify(embedder.embed([decoded])[0], top: 5)
    guard let spectra = embedder.spectra else { throw InputError("this extractor gives no spectra to explain") }
    let x = try Explanation(
      image: spectra(decoded), model: model ?? r.candidates[0].model, models: try g.spectra(), bands: bands)
    let dir = URL(fileURLWithPath: out, isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try ImageEncoder.png(x.figure()).write(to: dir.appendingPathComponent("explanation.png"), options: .atomic)
    try Data(x.profileChart.utf8).write(to: dir.appendingPathComponent("profiles.svg"), options: .atomic)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var object = try JSONSerialization.jsonObject(with: try encoder.encode(x)) as! [String: Any]
    for key in ["image_spectrum", "model_spectrum", "difference"] { object.removeValue(forKey: key) }
    object["image"] = image
    object["identification"] = identificationObject(path: image, r)
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      .write(to: dir.appendingPathComponent("bands.json"), options: .atomic)
    print("\(image): explained as \(x.model) in \(out)/explanation.png, profiles.svg, bands.json")
    for b in x.bands {
      let other = b.otherModel.map { " vs \($0) \(formatScore(b.otherDistance!))" } ?? ""
      print(
        "  radius \(b.low)..<\(b.high): distance \(formatScore(b.matchedDistance)) dB\(other)  weight \(formatScore(b.weight))"
          + (b.marked ? "  *" : ""))
    }
  }
}
