import ArgumentParser
import Attribution
import Foundation

/// `modelprint evaluate`: the paper's evaluation protocol on a folder-per-model set.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Identification, verification and cluster quality on a folder of model folders.",
    discussion: """
      ROOT/<model>/<image>. 1:N: the first --nshot images of each model (sorted file order) enroll it, the
      rest are queries (accuracy, macro-F1). 1:1: --pairs seeded pairs, half same-model (accuracy at the
      best threshold, AUC, EER, TAR at FAR 1 %). Clusters: silhouette (cosine) and Davies–Bouldin (on
      normalised embeddings). --method marra and spectrum score hand-crafted baselines the same way.
      Rates are fractions in the JSON and percentages in the table.
      """)

  enum Method: String, ExpressibleByArgument, CaseIterable {
    case modelprint, marra, spectrum
  }

  /// The JSON written by --json: the protocol's result and what it was computed on.
  struct Report: Encodable {
    var identification: EvaluationResult.Identification
    var verification: EvaluationResult.Verification
    var clusters: EvaluationResult.Clusters
    var method: String
    var root: String
    var models: [String]
    var images: Int
    var skipped: Int
    var extractor: String?
    var extractorSHA256: String

    enum CodingKeys: String, CodingKey {
      case identification, verification, clusters, method, root, models, images, skipped, extractor
      case extractorSHA256 = "extractor_sha256"
    }
  }

  @Argument(help: "A folder of model folders.") var root: String
  @Option(help: "Extractor checkpoint (for --method modelprint).") var extractor = defaultExtractorPath
  @Option(help: "Images per model that enroll it; the rest are queries.") var nshot = 10
  @Option(help: "Verification pairs, half same-model.") var pairs = 10_000
  @Option(help: "Seed of the pairs.") var seed: UInt64 = 0
  @Option(help: "Embedding method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")).")
  var method: Method = .modelprint
  @Option(help: "Write the results as JSON to this file.") var json: String?
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard nshot >= 1 else { throw ValidationError("--nshot must be at least 1") }
    guard pairs >= 2 else { throw ValidationError("--pairs must be at least 2") }
  }

  func run() throws {
    try common.apply()
    let embedder: Embedder
    switch method {
    case .modelprint: embedder = try Embedder.extractor(at: extractor)
    case .marra: embedder = Embedder.baseline(.marra)
    case .spectrum: embedder = Embedder.baseline(.spectrum)
    }
    let set = try LabelledEmbeddings(root: root, embedder: embedder)
    for (i, name) in set.models.enumerated() where set.labels.filter({ $0 == i }).count <= nshot {
      Log.info("\(name): \(set.labels.filter { $0 == i }.count) images, none left as queries after --nshot \(nshot)")
    }
    let r = EvaluationProtocol.evaluate(set.embeddings, labels: set.labels, nShot: nshot, pairs: pairs, seed: seed)
      .result
    print("\(method.rawValue) on \(root): \(set.models.count) models, \(set.embeddings.count) images")
    func pct(_ x: Double) -> String { String(format: "%6.2f %%", x * 100) }
    print("identification  accuracy         \(pct(r.identification.accuracy))  (\(r.identification.queries) queries)")
    print("                macro-F1         \(pct(r.identification.macroF1))")
    print("verification    accuracy         \(pct(r.verification.accuracy))  (\(pairs) pairs, seed \(seed))")
    print("                AUC              \(pct(r.verification.auc))")
    print("                EER              \(pct(r.verification.eer))")
    print("                TAR @ FAR 1 %    \(pct(r.verification.tarAtFar1pct))")
    print("clusters        silhouette       \(String(format: "%8.4f", r.clusters.silhouette))")
    print("                Davies–Bouldin   \(String(format: "%8.4f", r.clusters.daviesBouldin))")
    if let json {
      let report = Report(
        identification: r.identification, verification: r.verification, clusters: r.clusters, method: method.rawValue,
        root: root, models: set.models, images: set.embeddings.count, skipped: set.skipped,
        extractor: method == .modelprint ? extractor : nil, extractorSHA256: embedder.identity.sha256)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try encoder.encode(report).write(to: URL(fileURLWithPath: json), options: .atomic)
      Log.info("wrote \(json)")
    }
    if set.skipped > 0 { Log.info("\(set.skipped) files skipped") }
  }
}
