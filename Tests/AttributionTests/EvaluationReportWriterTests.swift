import Attribution
import Foundation
import XCTest

/// The HTML report from small synthetic runs: every section, every file.
final class EvaluationReportWriterTests: XCTestCase {
  static func run(method: String, seed: UInt64, unknown: Bool) throws -> EvaluationRun {
    let (e, labels) = ProtocolTests.clustered(classes: 4, per: 12, dim: 8, noise: 0.8, seed: seed)
    let other = ProtocolTests.clustered(classes: 2, per: 5, dim: 8, noise: 0.8, seed: seed + 100).0
    return try EvaluationRun.evaluate(
      method: method, models: ["alpha", "beta", "gamma <&>", "delta"], embeddings: e, labels: labels,
      unknown: unknown ? other : nil, nShot: 10, pairs: 400, seed: 0)
  }

  func testReportHasEverySectionAndFile() throws {
    let runs = [
      try Self.run(method: "modelprint", seed: 1, unknown: true), try Self.run(method: "marra", seed: 2, unknown: true),
    ]
    let sweep = SweepCurve(
      method: "modelprint", kind: .jpeg,
      points: [Perturbation.jpeg(quality: 100), .jpeg(quality: 50)].map { SweepPoint($0, run: runs[0]) })
    var report = EvaluationReport(title: "test report", notes: ["synthetic"], runs: runs, sweeps: [sweep])
    report.tsne.iterations = 60
    report.tsne.exaggerationIterations = 20
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let written = try report.write(to: folder, json: Data("{}".utf8))
    let names = Set(written.map(\.lastPathComponent))
    XCTAssertEqual(
      names,
      [
        "index.html", "evaluation.json", "confusion.svg", "per-model-accuracy.svg", "roc.svg", "similarity.svg",
        "tsne.svg", "sweep-jpeg-identification.svg", "sweep-jpeg-verification.svg",
      ])
    let html = try String(contentsOf: folder.appendingPathComponent("index.html"), encoding: .utf8)
    for section in EvaluationReport.Section.allCases {
      XCTAssertTrue(html.contains("<h2>\(section.rawValue)</h2>"), section.rawValue)
    }
    XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7)
    XCTAssertTrue(html.contains("open-set AUROC"))
    XCTAssertTrue(html.contains("<td>marra</td>"))
    XCTAssertTrue(html.contains("gamma &lt;&amp;&gt;"))
    XCTAssertFalse(html.contains("gamma <&>"))
    XCTAssertTrue(html.contains("jpeg:50"))
    for file in names where file.hasSuffix(".svg") {
      let svg = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
      XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"), file)
      XCTAssertFalse(svg.contains("nan") || svg.contains("inf"), file)
    }
  }

  func testTablesOfTheReport() throws {
    let run = try Self.run(method: "spectrum", seed: 3, unknown: false)
    let report = EvaluationReport(title: "t", runs: [run])
    XCTAssertEqual(report.metricsTable.head.count, 9)
    XCTAssertEqual(report.metricsTable.rows.map(\.count), [9])
    XCTAssertEqual(report.lineageTable.rows.count, 4)
    XCTAssertEqual(report.lineageTable.rows.map(\.[0]), run.models)
    let sweepOnly = EvaluationReport(title: "t", runs: [], sweeps: [])
    XCTAssertTrue(sweepOnly.figures().isEmpty)
    // Without runs there is no metrics table, hence no heading for it.
    XCTAssertFalse(sweepOnly.html(figures: []).contains("<h2>Metrics</h2>"))
  }
}
