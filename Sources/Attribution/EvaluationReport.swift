// The HTML report of an evaluation: one self-contained page (Reports' HTMLReport) with the metrics of every
// method run, the figures of the first method (confusion matrix, per-model accuracy, ROC, similarity
// histograms, t-SNE scatter), the lineage table and any robustness curves. The figures are also written
// as separate SVG files so that they can go into documents on their own.

import Evaluation
import Foundation
import Reports

/// The report of one evaluation, built from finished runs; it computes nothing but the figures.
public struct EvaluationReport: Sendable {
  /// The page's sections, in order; a section is present when its inputs are.
  public enum Section: String, CaseIterable, Sendable {
    case metrics = "Metrics"
    case confusion = "Confusion matrix (1:N)"
    case perModel = "Per-model accuracy (1:N)"
    case roc = "ROC curve (1:1)"
    case histograms = "Similarity histograms (1:1)"
    case scatter = "Embedding scatter (t-SNE)"
    case lineage = "Lineage"
    case robustness = "Robustness"
  }

  /// One SVG figure, its file name in the report folder and its caption.
  public struct Figure: Sendable {
    /// The section the figure belongs to.
    public var section: Section
    /// Its file name in the report folder.
    public var file: String
    /// The standalone SVG document.
    public var svg: String
    public var caption: String
  }

  /// The page's title.
  public var title: String
  /// Lines of context shown under the metrics heading (set, perturbation, counts).
  public var notes: [String]
  /// Evaluated methods; the figures show the first.
  public var runs: [EvaluationRun]
  /// Robustness curves, one per method.
  public var sweeps: [SweepCurve]
  /// The scatter shows at most this many images (evenly spaced over the set), since t-SNE is O(n²).
  public var scatterLimit = 1500
  /// Settings of the scatter's layout (seeded, so a report repeats).
  public var tsne = TSNE()
  /// ROC curves are thinned to about this many points; the figure cannot show more.
  public var rocPoints = 400

  public init(title: String, notes: [String] = [], runs: [EvaluationRun], sweeps: [SweepCurve] = []) {
    self.title = title
    self.notes = notes
    self.runs = runs
    self.sweeps = sweeps
  }

  static func pct(_ x: Double) -> String { String(format: "%.2f %%", x * 100) }
  static func num(_ x: Double) -> String { String(format: "%.4f", x) }

  /// The metrics table: one row per method.
  public var metricsTable: (head: [String], rows: [[String]]) {
    let openSet = runs.contains { $0.openSet != nil }
    var head = [
      "method", "1:N accuracy", "macro-F1", "1:1 accuracy", "AUC", "EER", "TAR @ FAR 1 %", "silhouette",
      "Davies–Bouldin",
    ]
    if openSet { head.append("open-set AUROC") }
    let rows = runs.map { run -> [String] in
      let r = run.result
      var row = [
        run.method, Self.pct(r.identification.accuracy), Self.pct(r.identification.macroF1),
        Self.pct(r.verification.accuracy), Self.pct(r.verification.auc), Self.pct(r.verification.eer),
        Self.pct(r.verification.tarAtFar1pct), Self.num(r.clusters.silhouette), Self.num(r.clusters.daviesBouldin),
      ]
      if openSet { row.append(run.openSet.map { Self.pct($0.auroc) } ?? "–") }
      return row
    }
    return (head, rows)
  }

  /// For each model of the first run: the other model whose enrolled fingerprint is nearest.
  public var lineageTable: (head: [String], rows: [[String]]) {
    guard let run = runs.first else { return ([], []) }
    let names = run.identification.gallery.classes.map { run.models[$0] }
    let rows = names.indices.map { i -> [String] in
      guard let l = run.identification.lineage[i] else { return [names[i], "–", "–"] }
      return [names[i], names[l.nearest], String(format: "%.4f", l.score)]
    }
    return (["model", "nearest other model", "cosine of fingerprints"], rows)
  }

  /// Every figure, in page order.
  public func figures() -> [Figure] {
    var out: [Figure] = []
    if let run = runs.first {
      let names = run.identification.gallery.classes.map { run.models[$0] }
      out.append(
        Figure(
          section: .confusion, file: "confusion.svg",
          svg: EvaluationFigures.confusion(
            run.identification.confusion, names: names, title: "\(run.method): 1:N confusion (rows: true model)"),
          caption: "Queries (images after the first \(run.result.identification.nShot) of each model) by true and "
            + "predicted model."))
      let accuracy = run.identification.perModelAccuracy
      out.append(
        Figure(
          section: .perModel, file: "per-model-accuracy.svg",
          svg: EvaluationFigures.bars(
            accuracy.map { $0 ?? 0 }, names: zip(names, accuracy).map { $1 == nil ? "\($0) (no queries)" : $0 },
            title: "\(run.method): 1:N accuracy per model"),
          caption: "Share of each model's queries attributed to it."))
      out.append(
        Figure(
          section: .roc, file: "roc.svg", svg: rocChart(),
          caption: "Verification ROC on \(run.result.verification.pairs) seeded pairs, half same-model."))
      let same = zip(run.pairScores, run.pairSame).filter { $0.1 }.map { Double($0.0) }
      let different = zip(run.pairScores, run.pairSame).filter { !$0.1 }.map { Double($0.0) }
      let threshold = run.result.verification.eerThreshold
      out.append(
        Figure(
          section: .histograms, file: "similarity.svg",
          svg: EvaluationFigures.histograms(
            same: same, different: different, threshold: threshold.isFinite ? threshold : nil,
            title: "\(run.method): cosine similarity of image pairs"),
          caption: "Same-model and different-model pairs; the dashed line is the threshold at the equal error "
            + "rate (\(Self.pct(run.result.verification.eer)))."))
      let stride = max(1, (run.embeddings.count + scatterLimit - 1) / scatterLimit)
      let shown = Array(Swift.stride(from: 0, to: run.embeddings.count, by: stride))
      let points = tsne.embed(shown.map { run.embeddings[$0] })
      out.append(
        Figure(
          section: .scatter, file: "tsne.svg",
          svg: EvaluationFigures.scatter(
            points, labels: shown.map { run.labels[$0] }, names: run.models,
            title: "\(run.method): t-SNE of image embeddings (cosine)"),
          caption: "\(shown.count) of \(run.embeddings.count) images, coloured by model."))
    }
    for (kind, curves) in Dictionary(grouping: sweeps, by: \.kind).sorted(by: { $0.key < $1.key }) {
      out.append(
        Figure(
          section: .robustness, file: "sweep-\(kind)-identification.svg",
          svg: sweepChart(curves, kind: kind, metric: "1:N accuracy") { $0.identification.accuracy },
          caption: "1:N accuracy under \(kind) perturbations (paper Fig. 16)."))
      out.append(
        Figure(
          section: .robustness, file: "sweep-\(kind)-verification.svg",
          svg: sweepChart(curves, kind: kind, metric: "1:1 AUC") { $0.verification.auc },
          caption: "1:1 verification AUC under \(kind) perturbations."))
    }
    return out
  }

  /// ROC curves of every run, thinned, with the chance diagonal.
  func rocChart() -> String {
    var series = runs.map { run -> LineChart.Series in
      let roc = ROCCurve(scores: run.pairScores, same: run.pairSame)
      let n = roc.falsePositiveRates.count
      let step = max(1, n / rocPoints)
      var idx = Array(stride(from: 0, to: n, by: step))
      if idx.last != n - 1 { idx.append(n - 1) }
      return LineChart.Series(
        name: "\(run.method) (AUC \(String(format: "%.3f", run.result.verification.auc)))",
        x: idx.map { roc.falsePositiveRates[$0] }, y: idx.map { roc.truePositiveRates[$0] })
    }
    series.append(LineChart.Series(name: "chance", x: [0, 1], y: [0, 1]))
    var chart = LineChart(
      title: "Verification ROC", xLabel: "false positive rate", yLabel: "true positive rate", series: series)
    chart.width = 760
    chart.height = 560
    return chart.svg
  }

  /// One metric against the perturbation's value, one line per method.
  func sweepChart(
    _ curves: [SweepCurve], kind: String, metric: String, _ value: (SweepPoint) -> Double
  ) -> String {
    let series = curves.map { c in LineChart.Series(name: c.method, x: c.points.map(\.value), y: c.points.map(value)) }
    var chart = LineChart(
      title: "\(metric) under \(kind) perturbation", xLabel: Perturbation.Kind(rawValue: kind)?.axisLabel ?? kind,
      yLabel: metric, series: series)
    chart.width = 760
    chart.height = 460
    return chart.svg
  }

  /// The page, with `figures` (from ``figures()``) inline.
  public func html(figures: [Figure]) -> String {
    var page = HTMLReport(title: title)
    if !runs.isEmpty { page.blocks.append(.heading(Section.metrics.rawValue)) }
    for n in notes { page.blocks.append(.paragraph(n)) }
    if !runs.isEmpty {
      let t = metricsTable
      page.blocks.append(.table(t.head, t.rows))
      page.blocks.append(
        .paragraph(
          "Rates in percent; silhouette (cosine, higher is better) and Davies–Bouldin (lower is better) on the "
            + "embeddings grouped by model. The figures below are for \(runs[0].method)."))
    }
    for section in Section.allCases where section != .metrics {
      let shown = figures.filter { $0.section == section }
      let table = section == .lineage && !runs.isEmpty
      guard !shown.isEmpty || table else { continue }
      page.blocks.append(.heading(section.rawValue))
      for f in shown { page.blocks.append(.figure(svg: f.svg, caption: f.caption)) }
      if table {
        page.blocks.append(
          .paragraph(
            "For each model, the other model whose fingerprint (mean of its enrolled embeddings) is nearest by "
              + "cosine: models that share an architecture or a base model should pair up."))
        let t = lineageTable
        page.blocks.append(.table(t.head, t.rows))
      }
      if section == .robustness {
        let openSet = sweeps.contains { $0.points.contains { $0.openSet != nil } }
        var rows: [[String]] = []
        for c in sweeps {
          for p in c.points {
            var row = [
              c.method, p.perturbation, Self.pct(p.identification.accuracy), Self.pct(p.identification.macroF1),
              Self.pct(p.verification.auc), Self.pct(p.verification.eer),
            ]
            if openSet { row.append(p.openSet.map { Self.pct($0.auroc) } ?? "–") }
            rows.append(row)
          }
        }
        let head = ["method", "perturbation", "1:N accuracy", "macro-F1", "AUC", "EER"]
        page.blocks.append(.table(head + (openSet ? ["open-set AUROC"] : []), rows))
      }
    }
    return page.html
  }

  /// Writes `index.html`, every figure as its own SVG file and, when given, `evaluation.json` into
  /// `folder` (created if missing).
  ///
  /// - Returns: the files written.
  @discardableResult
  public func write(to folder: URL, json: Data? = nil) throws -> [URL] {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let figures = figures()
    var written: [URL] = []
    for f in figures {
      let url = folder.appendingPathComponent(f.file)
      try Data(f.svg.utf8).write(to: url, options: .atomic)
      written.append(url)
    }
    if let json {
      let url = folder.appendingPathComponent("evaluation.json")
      try json.write(to: url, options: .atomic)
      written.append(url)
    }
    let index = folder.appendingPathComponent("index.html")
    try Data(html(figures: figures).utf8).write(to: index, options: .atomic)
    written.append(index)
    return written
  }
}
