import ArgumentParser
import Attribution
import Foundation

/// `modelprint gallery`: enroll, list and remove models of a gallery.
struct GalleryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gallery",
    abstract: "Manage a gallery of model fingerprints (an SQLite file).",
    subcommands: [Enroll.self, List.self, Remove.self, Metric.self, Export.self, Import.self, BenchSearch.self])

  struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Enroll a model from some of its images (created with the gallery when new).",
      discussion: """
        Embeds every image (folders are searched recursively) and stores the embeddings; the model's
        fingerprint is the mean of its normalised embeddings. Enrolling into an existing model adds images;
        an image path enrolled before is replaced. Unreadable files are reported and skipped. All of one
        command's images are stored in one transaction.
        """)

    @Option(help: "Gallery file (created if missing).") var gallery: String
    @Option(help: "Model name.") var model: String
    @Option(help: "Notes about the model (replace earlier notes).") var notes: String?
    @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
    var extractor: String?
    @Argument(help: "Image files or folders.") var images: [String]
    @OptionGroup var common: CommonOptions

    func run() throws {
      try common.apply()
      let url = URL(fileURLWithPath: gallery)
      let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
      let g = try Gallery(at: url, extractor: embedder.identity, metric: embedder.metric)
      let files = try imageFiles(images)
      // The spectra are kept for `modelprint explain` and the server's explanations.
      var spectra: ResidualSpectra?
      let (embedded, failed) = embedder.embed(files: files, label: "enroll \(model)") { images in
        guard let of = embedder.spectra else { return }
        for image in images { spectra = spectra.map { $0.adding(of(image)) } ?? of(image) }
      }
      guard !embedded.isEmpty else {
        throw InputError("none of the \(files.count) files could be read; nothing was enrolled into '\(model)'")
      }
      let m = try g.enroll(
        model: model, notes: notes, images: embedded.map { ($0.url.path, $0.embedding) }, spectra: spectra)
      print("enrolled \(embedded.count) images into '\(m.name)' (\(m.images) in all) in \(gallery)")
      if failed > 0 {
        Log.info("\(failed) of \(files.count) files skipped")
        throw ExitCode(1)
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the models of a gallery.")

    @Option(help: "Gallery file.") var gallery: String
    @Flag(help: "One JSON object per model.") var json = false

    func run() throws {
      let g = try Gallery(at: URL(fileURLWithPath: gallery), extractor: nil)
      let models = try g.models()
      let dates = ISO8601DateFormatter()
      if json {
        for m in models {
          print(
            try jsonLine([
              "name": m.name, "notes": m.notes, "images": m.images, "created": dates.string(from: m.created),
            ]))
        }
        return
      }
      let width = max(5, models.map(\.name.count).max() ?? 0)
      print("model".padding(toLength: width, withPad: " ", startingAt: 0) + "  images  created               notes")
      for m in models {
        print(
          m.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
            + String(m.images).leftPadded(6) + "  " + dates.string(from: m.created) + "  " + m.notes)
      }
      let calibrated = try g.calibration() != nil ? "calibrated" : "not calibrated (run `modelprint calibrate`)"
      print(
        "\(models.count) models, extractor \(g.extractor.sha256.prefix(12))…, \(try g.metric().rawValue) metric, "
          + calibrated)
    }
  }

  struct Metric: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show or set the metric a gallery identifies in.",
      discussion: """
        gallery (the default of new galleries): 1:N scores in a metric adapted to the gallery's own enrolled \
        images, the extractor's synthetic within-model scatter mixed with the gallery's (weight n/(n+D), n \
        the images' within-model degrees of freedom, D the embedding width; fitted on the first \
        \(Gallery.adaptationImages) images in enrollment order). synthetic: the extractor's own metric \
        (galleries made before the adaptation). Verification never uses the gallery's metric. Changing \
        the metric removes the calibration: run `modelprint calibrate` again.
        """)

    @Option(help: "Gallery file.") var gallery: String
    @Argument(help: "The metric to set: gallery or synthetic (omit to show it).") var metric: GalleryMetric?

    func run() throws {
      let g = try Gallery(at: URL(fileURLWithPath: gallery), extractor: nil)
      guard let metric else {
        print(try g.metric().rawValue)
        return
      }
      let before = try g.metric()
      try g.setMetric(metric)
      print(
        before == metric
          ? "\(gallery) already identifies in the \(metric.rawValue) metric"
          : "\(gallery) now identifies in the \(metric.rawValue) metric; its calibration was removed: run `modelprint calibrate`"
      )
    }
  }

  struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a model and its images from a gallery.")

    @Option(help: "Gallery file.") var gallery: String
    @Option(help: "Model name.") var model: String

    func run() throws {
      let m = try Gallery(at: URL(fileURLWithPath: gallery), extractor: nil).remove(model: model)
      print("removed '\(m.name)' (\(m.images) images) from \(gallery)")
    }
  }
}

extension GalleryCommand {
  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a gallery's models as a portable fingerprint pack (JSON).",
      discussion: """
        The pack holds every model's name, notes, enrolled embeddings and residual spectra, the
        extractor's SHA-256 and the pack format version; not the images, and not the calibration (run
        `modelprint calibrate` on the gallery it is imported into).
        """)

    @Option(help: "Gallery file.") var gallery: String
    @Option(help: "Pack file to write.") var out: String

    func run() throws {
      let g = try Gallery(at: URL(fileURLWithPath: gallery), extractor: nil)
      let pack = try FingerprintPack(gallery: g)
      try pack.encoded().write(to: URL(fileURLWithPath: out), options: .atomic)
      print("exported \(pack.models.count) models (\(pack.models.reduce(0) { $0 + $1.images.count }) images) to \(out)")
    }
  }

  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Enroll the models of a fingerprint pack into a gallery (created when missing).",
      discussion: """
        Refused when the pack's extractor SHA-256 differs from the gallery's (or, for a new gallery,
        from the extractor that would be used): embeddings of two extractors cannot be compared.
        """)

    @Option(help: "Gallery file (created if missing).") var gallery: String
    @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
    var extractor: String?
    @Argument(help: "Pack file written by `modelprint gallery export`.") var pack: String

    func run() throws {
      let data: Data
      do { data = try Data(contentsOf: URL(fileURLWithPath: pack)) } catch {
        throw InputError("\(pack): cannot read it (\((error as NSError).localizedDescription))")
      }
      let p = try FingerprintPack.decode(data, name: pack)
      let url = URL(fileURLWithPath: gallery)
      let embedder = try Embedder.resolve(explicit: extractor, gallery: url)
      guard p.extractorSHA256 == embedder.identity.sha256 else {
        throw PackError.extractorMismatch(name: pack, pack: p.extractorSHA256, gallery: embedder.identity.sha256)
      }
      let models = try p.importInto(
        try Gallery(at: url, extractor: embedder.identity, metric: embedder.metric), name: pack)
      print("imported \(models.count) models into \(gallery)")
    }
  }
}

extension String {
  /// The string right-aligned in `width` columns.
  func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
