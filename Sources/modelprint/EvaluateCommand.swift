import ArgumentParser
import Attribution
import Evaluation
import Fingerprint
import Foundation
import Imaging

/// `modelprint evaluate`: the paper's evaluation protocol on a folder-per-model set.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Identification, verification and cluster quality on a folder of model folders.",
    discussion: """
      ROOT/<model>/<image>. 1:N: the first --nshot images of each model (sorted file order) enroll it, the \
      rest are queries (accuracy, macro-F1). 1:1: --pairs seeded pairs, half same-model (accuracy at the \
      best threshold, AUC, EER, TAR at FAR 1 %). Clusters: silhouette (cosine) and Davies–Bouldin (on \
      normalised embeddings). Rates are fractions in the JSON and percentages in the table.

      --metric gallery (the default) scores 1:N and the open set as a gallery does: in a metric adapted to \
      the enrolled images only (`modelprint gallery metric`), for an extractor with a whitening (without \
      one, and for the baselines, it is the plain cosine); --metric synthetic in the extractor's own. \
      Verification and clusters compare images without a gallery and never use it.

      --method marra and spectrum score hand-crafted baselines the same way; --compare scores all three.

      --unknown ROOT2 adds the open-set AUROC: ROOT's queries (known) against every image of ROOT2's models \
      (unknown), each scored by its best cosine to ROOT's enrolled fingerprints.

      --perturb jpeg:Q re-compresses every image as JPEG at quality Q; --perturb crop:R keeps the centred \
      region holding R of the image's area and resizes it back to the image's size (the paper's \
      RandomResizedCrop at a fixed ratio). --sweep jpeg|crop evaluates the paper's range of either (Fig. 16): \
      JPEG quality 100, 95, 90, 80, 70, 60, 50 or crop ratio 1, 0.9, 0.8, 0.7, 0.6, 0.5.

      --report DIR writes index.html (metrics, confusion matrix, ROC, similarity histograms, t-SNE scatter, \
      per-model accuracy, lineage, or the robustness curve with --sweep), each figure as SVG and the JSON.
      """)

  enum Method: String, ExpressibleByArgument, CaseIterable {
    case modelprint, marra, spectrum
  }

  /// The perturbation families `--sweep` accepts.
  enum SweepKind: String, ExpressibleByArgument, CaseIterable {
    case jpeg, crop

    var kind: Perturbation.Kind { self == .jpeg ? .jpeg : .crop }
  }

  /// One method's numbers in the JSON.
  struct MethodSummary: Encodable {
    var method: String
    var identification: EvaluationResult.Identification
    var verification: EvaluationResult.Verification
    var galleryVerification: GalleryVerification?
    var clusters: EvaluationResult.Clusters
    var openSet: OpenSetResult?
    var extractorSHA256: String

    enum CodingKeys: String, CodingKey {
      case method, identification, verification, clusters
      case galleryVerification = "gallery_verification"
      case openSet = "open_set"
      case extractorSHA256 = "extractor_sha256"
    }
  }

  /// The JSON written by --json: the protocol's result and what it was computed on.
  struct Report: Encodable {
    var identification: EvaluationResult.Identification
    var verification: EvaluationResult.Verification
    /// The same pairs scored in the enrolled gallery's context, when 1:N uses the gallery metric.
    var galleryVerification: GalleryVerification?
    var clusters: EvaluationResult.Clusters
    var openSet: OpenSetResult?
    var method: String
    var root: String
    var unknownRoot: String?
    var perturbation: String?
    var models: [String]
    /// The first method's 1:N accuracy per model (the share of its queries attributed to it), for the
    /// models that have queries: a total made of a few models' gains shows here.
    var perModelAccuracy: [String: Double]
    var images: Int
    var skipped: Int
    var extractor: String?
    var extractorSHA256: String
    /// Every method run, the first being the one above (with --compare).
    var comparison: [MethodSummary]?

    enum CodingKeys: String, CodingKey {
      case identification, verification, clusters, method, root, perturbation, models, images, skipped, extractor
      case comparison
      case galleryVerification = "gallery_verification"
      case openSet = "open_set"
      case perModelAccuracy = "per_model_accuracy"
      case unknownRoot = "unknown_root"
      case extractorSHA256 = "extractor_sha256"
    }
  }

  /// The JSON of --sweep: the first method's curve, and every method's with --compare.
  struct SweepReport: Encodable {
    var sweep: String
    var method: String
    var root: String
    var unknownRoot: String?
    var models: [String]
    var curve: [SweepPoint]
    var comparison: [SweepCurve]?

    enum CodingKeys: String, CodingKey {
      case sweep, method, root, models, curve, comparison
      case unknownRoot = "unknown_root"
    }
  }

  @Argument(help: "A folder of model folders.") var root: String
  @Option(help: "Extractor checkpoint (for --method modelprint; default: the shipped \(Shipped.extractor)).")
  var extractor: String?
  @Option(help: "Windows per side of the grid each image is embedded with (--method modelprint).")
  var windows = Extractor.defaultGrid
  @Option(help: "Images per model that enroll it; the rest are queries.") var nshot = EvaluationProtocol.defaultNShot
  @Option(help: "Verification pairs, half same-model.") var pairs = EvaluationProtocol.defaultPairs
  @Option(help: "Seed of the pairs.") var seed: UInt64 = 0
  @Option(help: "Embedding method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")).")
  var method: Method = .modelprint
  @Option(
    help: "1:N metric of --method modelprint: gallery (adapted to the enrolled images, as a gallery) or synthetic.")
  var metric: GalleryMetric = .gallery
  @Flag(help: "Also run the other two methods and report all three side by side.") var compare = false
  @Option(help: "A folder of models outside ROOT (ROOT2/<model>/<image>): adds the open-set AUROC.")
  var unknown: String?
  @Option(help: "Perturb every image first: jpeg:Q (quality 1–100) or crop:R (share of the area kept, 0–1).")
  var perturb: String?
  @Option(help: "Evaluate over the paper's range of a perturbation: jpeg or crop.") var sweep: SweepKind?
  @Option(help: "Write the results as JSON to this file.") var json: String?
  @Option(help: "Write an HTML report, its SVG figures and the JSON into this folder.") var report: String?
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard nshot >= 1 else { throw ValidationError("--nshot must be at least 1") }
    guard (1...maxWindowsPerSide).contains(windows) else {
      throw ValidationError("--windows must be between 1 and \(maxWindowsPerSide), got \(windows)")
    }
    guard pairs >= 2 else { throw ValidationError("--pairs must be at least 2") }
    if let perturb {
      do {
        _ = try Perturbation(parsing: perturb)
      } catch let error as PerturbationError {
        throw ValidationError("--perturb: \(error)")
      }
    }
    if perturb != nil && sweep != nil {
      throw ValidationError("--perturb and --sweep exclude each other: --sweep already perturbs every image")
    }
    // Listing the folders is quick; embedding them is not, so a model without queries is refused here.
    if let models = try? ImageFiles.models(in: URL(fileURLWithPath: root)) {
      try Self.checkQueries(models.map { ($0.name, $0.files.count) }, in: root, nshot: nshot, counted: "image files")
    }
  }

  /// Refuses a model with no image left as a query after its first `nshot` enroll it: its queries would
  /// be missing from the scores, and with none anywhere the accuracies would read 0 %.
  static func checkQueries(_ counts: [(name: String, images: Int)], in root: String, nshot: Int, counted: String) throws
  {
    let short = counts.filter { $0.images <= nshot }
    guard short.isEmpty else {
      let list = short.prefix(5).map { "\($0.name) (\($0.images))" }.joined(separator: ", ")
      throw InputError(
        "--nshot \(nshot): every model of \(root) needs more than \(nshot) \(counted) (the first \(nshot) enroll it, the rest are "
          + "queries), but \(short.count) do not: \(list)\(short.count > 5 ? ", …" : ""); lower --nshot")
    }
  }

  var methods: [Method] { compare ? [method] + Method.allCases.filter { $0 != method } : [method] }

  func embedder(_ m: Method) throws -> Embedder {
    switch m {
    case .modelprint:
      return try Embedder.extractor(at: Shipped.path(extractor, default: Shipped.extractor), grid: windows)
    case .marra: return Embedder.baseline(.marra)
    case .spectrum: return Embedder.baseline(.spectrum)
    }
  }

  func run() throws {
    try common.apply()
    // Loading every embedder first makes a missing checkpoint fail before minutes of embedding.
    let embedders = try methods.map(embedder)
    if let sweep {
      try runSweep(sweep.kind, embedders: embedders)
    } else {
      try runOnce(perturbation: try perturb.map { try Perturbation(parsing: $0) }, embedders: embedders)
    }
  }

  /// Embeds ROOT (and ROOT2) with one method under one perturbation and runs the protocol.
  func evaluate(_ embedder: Embedder, perturbation: Perturbation?) throws -> (run: EvaluationRun, skipped: Int) {
    let set = try LabelledEmbeddings(root: root, embedder: embedder, perturbation: perturbation)
    try Self.checkQueries(
      set.models.enumerated().map { i, name in (name, set.labels.filter { $0 == i }.count) }, in: root, nshot: nshot,
      counted: "readable images")
    var unknownEmbeddings: [[Float]]? = nil
    var skipped = set.skipped
    if let unknown {
      guard EnrolledGallery(set.embeddings, labels: set.labels, nShot: nshot).queries.count > 0 else {
        throw InputError(
          "--unknown: no model of \(root) has more than --nshot \(nshot) images, so there are no known queries; "
            + "lower --nshot")
      }
      let (embeddings, failed) = try embedUnknown(
        unknown, embedder: embedder, perturbation: perturbation, known: set.models)
      unknownEmbeddings = embeddings
      skipped += failed
    }
    let run = try EvaluationRun.evaluate(
      method: embedder.name, models: set.models, embeddings: set.embeddings, labels: set.labels,
      unknown: unknownEmbeddings, nShot: nshot, pairs: pairs, seed: seed,
      adaptation: embedder.metric == .gallery && metric == .gallery)
    return (run, skipped)
  }

  /// Every image of every model folder of `folder`, embedded.
  func embedUnknown(
    _ folder: String, embedder: Embedder, perturbation: Perturbation?, known: [String]
  ) throws -> (embeddings: [[Float]], failed: Int) {
    let folders = try ModelFolders(root: folder, flag: "--unknown", minimumModels: 1)
    let shared = Set(folders.models.map(\.name)).intersection(known)
    if !shared.isEmpty {
      Log.info(
        "--unknown \(folder): \(shared.sorted().joined(separator: ", ")) also in \(root); their images count as "
          + "unknown all the same")
    }
    let set = try folders.embedded(
      by: embedder, perturbation: perturbation, minimumPerModel: 0, progressLabel: "unknown ")
    guard !set.embeddings.isEmpty else { throw InputError("--unknown \(folder): no image could be read") }
    return (set.embeddings, set.skipped)
  }

  func printTable(_ run: EvaluationRun, perturbation: Perturbation?) {
    let r = run.result
    print(
      "\(run.method) on \(root): \(run.models.count) models, \(run.embeddings.count) images"
        + (perturbation.map { ", perturbed \($0)" } ?? ""))
    func pct(_ x: Double) -> String { String(format: "%6.2f %%", x * 100) }
    print("identification  accuracy         \(pct(r.identification.accuracy))  (\(r.identification.queries) queries)")
    print("                macro-F1         \(pct(r.identification.macroF1))")
    print("verification    accuracy         \(pct(r.verification.accuracy))  (\(pairs) pairs, seed \(seed))")
    print("                AUC              \(pct(r.verification.auc))")
    print("                EER              \(pct(r.verification.eer))")
    print("                TAR @ FAR 1 %    \(pct(r.verification.tarAtFar1pct))")
    if let g = run.galleryVerification {
      print("in the gallery  AUC              \(pct(g.all.auc))  (same pairs, scored as a gallery's verify does)")
      print("                EER              \(pct(g.all.eer))")
      if let q = g.aucQueryPairs {
        print("                AUC, queries     \(pct(q))  (\(g.queryPairs) pairs of two non-enrolled images)")
      }
    }
    print("clusters        silhouette       \(String(format: "%8.4f", r.clusters.silhouette))")
    print("                Davies–Bouldin   \(String(format: "%8.4f", r.clusters.daviesBouldin))")
    if let o = run.openSet {
      print(
        "open set        AUROC            \(pct(o.auroc))  (\(o.knownQueries) known, \(o.unknownQueries) unknown)")
    }
  }

  func runOnce(perturbation: Perturbation?, embedders: [Embedder]) throws {
    var runs: [EvaluationRun] = []
    var skipped = 0
    for (k, embedder) in embedders.enumerated() {
      let (run, s) = try evaluate(embedder, perturbation: perturbation)
      if k == 0 { skipped = s }
      if k > 0 { print("") }
      printTable(run, perturbation: perturbation)
      runs.append(run)
    }
    let first = runs[0]
    let summaries = zip(runs, embedders).map { run, e in
      MethodSummary(
        method: run.method, identification: run.result.identification, verification: run.result.verification,
        galleryVerification: run.galleryVerification, clusters: run.result.clusters, openSet: run.openSet,
        extractorSHA256: e.identity.sha256)
    }
    let document = Report(
      identification: first.result.identification, verification: first.result.verification,
      galleryVerification: first.galleryVerification, clusters: first.result.clusters, openSet: first.openSet,
      method: method.rawValue, root: root,
      unknownRoot: unknown, perturbation: perturbation?.description, models: first.models,
      perModelAccuracy: Dictionary(
        uniqueKeysWithValues: zip(first.identification.gallery.classes, first.identification.perModelAccuracy)
          .compactMap { c, a in a.map { (first.models[c], $0) } }),
      images: first.embeddings.count, skipped: skipped,
      extractor: method == .modelprint ? (extractor ?? embedders[0].identity.path) : nil,
      extractorSHA256: embedders[0].identity.sha256, comparison: compare ? summaries : nil)
    let data = try Self.encode(document)
    if let json {
      try data.write(to: URL(fileURLWithPath: json), options: .atomic)
      Log.info("wrote \(json)")
    }
    if report != nil {
      var notes = ["\(root): \(first.models.count) models, \(first.embeddings.count) images; --nshot \(nshot)."]
      if let perturbation { notes.append("Every image perturbed first: \(perturbation).") }
      if let unknown, let o = first.openSet {
        notes.append(
          "Open set: \(o.knownQueries) queries of \(root) (known) against \(o.unknownQueries) images of \(unknown) "
            + "(unknown).")
      }
      try writeReport(EvaluationReport(title: "ModelPrint evaluation", notes: notes, runs: runs), json: data)
    }
    // As every batch command: the results of the readable files are out; the status says some were not.
    if skipped > 0 {
      Log.info("\(skipped) files skipped")
      throw ExitCode(1)
    }
  }

  func runSweep(_ kind: Perturbation.Kind, embedders: [Embedder]) throws {
    var curves: [SweepCurve] = []
    var models: [String] = []
    for embedder in embedders {
      var points: [SweepPoint] = []
      for p in kind.sweep {
        let (run, _) = try evaluate(embedder, perturbation: p)
        models = run.models
        printTable(run, perturbation: p)
        print("")
        points.append(SweepPoint(p, run: run))
      }
      curves.append(SweepCurve(method: embedder.name, kind: kind, points: points))
    }
    for c in curves {
      let open = c.points.contains { $0.openSet != nil }
      print("\(c.method), \(kind.rawValue) sweep:")
      print("  value   1:N acc   macro-F1       AUC       EER" + (open ? "  open AUROC" : ""))
      for p in c.points {
        var line = String(
          format: "  %5g  %7.2f %%  %7.2f %%  %7.2f %%  %7.2f %%", p.value, p.identification.accuracy * 100,
          p.identification.macroF1 * 100, p.verification.auc * 100, p.verification.eer * 100)
        if let o = p.openSet { line += String(format: "   %7.2f %%", o.auroc * 100) }
        print(line)
      }
    }
    let document = SweepReport(
      sweep: kind.rawValue, method: method.rawValue, root: root, unknownRoot: unknown, models: models,
      curve: curves[0].points, comparison: compare ? curves : nil)
    let data = try Self.encode(document)
    if let json {
      try data.write(to: URL(fileURLWithPath: json), options: .atomic)
      Log.info("wrote \(json)")
    }
    if report != nil {
      let notes = [
        "\(root): \(models.count) models; --nshot \(nshot); every image perturbed by \(kind.rawValue) at each "
          + "point: \(kind.sweep.map(\.description).joined(separator: ", "))."
      ]
      try writeReport(
        EvaluationReport(title: "ModelPrint robustness (\(kind.rawValue))", notes: notes, runs: [], sweeps: curves),
        json: data)
    }
  }

  func writeReport(_ page: EvaluationReport, json: Data) throws {
    guard let report else { return }
    Log.info("drawing the report (t-SNE of the embeddings)")
    let files = try page.write(to: URL(fileURLWithPath: report), json: json)
    Log.info("wrote \(report)/index.html and \(files.count - 1) more files")
  }

  static func encode<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(value)
  }
}
