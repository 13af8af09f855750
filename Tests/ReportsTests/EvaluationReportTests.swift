import Foundation
import Reports
import XCTest

#if canImport(FoundationXML)
  import FoundationXML
#endif

final class EvaluationReportTests: XCTestCase {
  /// Three well-separated clusters in 16 dimensions stay separated in two: every point's nearest
  /// 2-D neighbour has its label.
  func testTSNEKeepsClustersApart() {
    var points: [[Float]] = []
    var labels: [Int] = []
    var state: UInt64 = 7
    func noise() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24) - 0.5
    }
    for c in 0..<3 {
      for _ in 0..<20 {
        var p = (0..<16).map { _ in 0.1 * noise() }
        p[c * 5] += 1
        points.append(p)
        labels.append(c)
      }
    }
    var tsne = TSNE()
    tsne.perplexity = 10
    tsne.iterations = 400
    let y = tsne.embed(points)
    XCTAssertEqual(y.count, points.count)
    XCTAssertTrue(y.allSatisfy { $0.x.isFinite && $0.y.isFinite })
    for i in y.indices {
      let nearest = y.indices.filter { $0 != i }.min {
        hypot(y[$0].x - y[i].x, y[$0].y - y[i].y) < hypot(y[$1].x - y[i].x, y[$1].y - y[i].y)
      }!
      XCTAssertEqual(labels[nearest], labels[i], "point \(i) at \(y[i]), nearest \(nearest) at \(y[nearest])")
    }
    XCTAssertEqual(tsne.embed(points).map(\.x), y.map(\.x), "same seed, same layout")
  }

  func testFiguresAreWellFormedSVGAndThePageHoldsThem() throws {
    let names = ["gan <a>", "diffusion", "vae"]
    let figures = [
      EvaluationFigures.scatter(
        [(0, 0), (1, 1), (2, 0.5), (3, 2)], labels: [0, 1, 2, 0], names: names, title: "t-SNE"),
      EvaluationFigures.confusion([[5, 1, 0], [0, 6, 0], [2, 0, 4]], names: names, title: "confusion"),
      EvaluationFigures.histograms(
        same: [0.9, 0.8, 0.85], different: [0.1, 0.3, -0.2], threshold: 0.5, title: "scores"),
      EvaluationFigures.bars([0.83, 1, 0.67], names: names, title: "accuracy"),
    ]
    for svg in figures {
      let parser = XMLParser(data: Data(svg.utf8))
      XCTAssertTrue(parser.parse(), "not well-formed: \(svg.prefix(200))")
    }
    XCTAssertEqual(figures[0].components(separatedBy: "<circle").count - 1, 4 + names.count)
    var page = HTMLReport(title: "Evaluation")
    page.blocks = [
      .heading("Metrics"), .table(["metric", "value"], [["AUC", "0.9"]]),
      .figure(svg: figures[1], caption: "Confusion matrix"),
    ]
    let html = page.html
    XCTAssertTrue(html.contains("<th>metric</th>") && html.contains("<td>0.9</td>"))
    XCTAssertTrue(html.contains("gan &lt;a&gt;"))
    XCTAssertTrue(html.hasSuffix("</html>\n"))
  }
}
