import ArgumentParser
import Attribution
import Foundation
import Imaging

/// `modelprint demo`: the whole attribution loop on the bundled images, with the shipped extractor.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Enroll bundled generators in a gallery, then attribute images it has not seen.",
    discussion: """
      Uses the shipped extractor (models/extractor.safetensors) and the bundled images of third-party
      super-resolution networks (data/demo, licences in data/demo/LICENSES.md). The first --enroll images
      of every model but the last enroll it; the gallery's thresholds are calibrated on them; every other
      image is identified. The last model is never enrolled, to show the "unknown" answer for a generator
      outside the gallery. Nothing was trained on these images.
      """)

  @Option(help: "Extractor checkpoint (default: the shipped \(Shipped.extractor)).") var extractor: String?
  @Option(help: "Folder of model folders (default: the shipped \(Shipped.demo)).") var images: String?
  @Option(help: "Images per model to enroll.") var enroll: Int = 4
  @Option(help: "Gallery file to keep (default: a temporary one, removed at the end).") var gallery: String?
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard enroll >= 1 else { throw ValidationError("--enroll must be at least 1") }
  }

  func run() throws {
    try common.apply()
    let images = try Shipped.path(self.images, default: Shipped.demo)
    let models = try ImageFiles.models(in: URL(fileURLWithPath: images))
    guard models.count >= 3 else {
      throw InputError("\(images): the demo needs at least 3 model folders, found \(models.count)")
    }
    let embedder = try Embedder.extractor(at: Shipped.path(extractor, default: Shipped.extractor))
    let temporary = gallery == nil
    let url =
      gallery.map { URL(fileURLWithPath: $0) }
      ?? FileManager.default.temporaryDirectory.appendingPathComponent("modelprint-demo-\(getpid()).sqlite")
    defer {
      if temporary {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
      }
    }
    let store = try Gallery(at: url, extractor: embedder.identity, metric: embedder.metric)
    let start = Date()
    let enrolled = models.dropLast()
    let outsider = models.last!
    print("Gallery \(temporary ? "(temporary)" : url.path): enrolling \(enrolled.count) models, \(enroll) images each")
    var queries: [(url: URL, truth: String, enrolled: Bool)] = []
    for model in enrolled {
      let files = Array(model.files.prefix(enroll))
      let (embedded, _) = embedder.embed(files: files, label: "enroll \(model.name)")
      try store.enroll(model: model.name, images: embedded.map { ($0.url.path, $0.embedding) })
      queries += model.files.dropFirst(enroll).map { ($0, model.name, true) }
    }
    queries += outsider.files.map { ($0, outsider.name, false) }
    let calibration = try store.calibrate()
    print(
      String(
        format: "Calibrated on the enrolled images: open-set threshold %.3f, verification threshold %.3f",
        calibration.openSet.eerThreshold, calibration.verification.eerThreshold))
    print("\n\(outsider.name) is not in the gallery: its images should come back \"unknown\".")
    print("score: the best model's score the open-set decision compares with the threshold.\n")
    let (embedded, failed) = embedder.embed(files: queries.map(\.url), label: "identify")
    let byURL = Dictionary(embedded.map { ($0.url, $0.embedding) }, uniquingKeysWith: { a, _ in a })
    let width = max(28, models.map(\.name.count).max() ?? 0)
    func pad(_ s: String, _ w: Int = width) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
    let imageWidth = width + 9
    print("\(pad("image", imageWidth)) \(pad("made by")) \(pad("identified as")) score   ")
    var right = 0
    var rightKnown = 0
    var known = 0
    var unknownRight = 0
    for q in queries {
      guard let e = byURL[q.url] else { continue }
      let id = try store.identify(e, top: 1)
      let best = id.candidates.first!
      let answer = id.isUnknown ? "unknown" : best.model
      let correct = q.enrolled ? answer == q.truth : answer == "unknown"
      if q.enrolled {
        known += 1
        if best.model == q.truth { rightKnown += 1 }
      } else if correct {
        unknownRight += 1
      }
      if correct { right += 1 }
      let name = q.truth + "/" + q.url.lastPathComponent
      print(
        "\(pad(name, imageWidth)) \(pad(q.enrolled ? q.truth : "(not enrolled)")) \(pad(answer)) \(String(format: "%.3f", id.decisionScore))  \(correct ? "✓" : "✗")"
      )
    }
    let total = queries.count - failed
    print(
      String(
        format: "\nClosed set (top-1 among %d models, enrolled generators): %d / %d = %.1f %%", enrolled.count,
        rightKnown, known, 100 * Double(rightKnown) / Double(max(known, 1))))
    print(
      String(
        format: "Open set (with \"unknown\"): %d / %d answers right = %.1f %% (%d of %d images of %@ called unknown)",
        right, total, 100 * Double(right) / Double(max(total, 1)), unknownRight, total - known, outsider.name))
    print(String(format: "%.1f s for %d images", Date().timeIntervalSince(start), total + enrolled.count * enroll))
  }
}
