import Foundation
import FoundationXML
import Imaging
import XCTest

@testable import Reports

final class ReportsTests: XCTestCase {
  func testLineChartIsWellFormedSVGWithEverySeries() throws {
    let chart = LineChart(
      title: "a < b", xLabel: "radius", yLabel: "dB",
      series: [
        .init(name: "model-1", x: [0, 1, 2], y: [10, 5, 2]), .init(name: "model&2", x: [0, 1, 2], y: [9, .nan, 1]),
      ])
    let svg = chart.svg
    XCTAssertNoThrow(try XMLDocument(xmlString: svg))
    XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
    XCTAssert(svg.contains("model&amp;2") && svg.contains("a &lt; b"))
  }

  func testTicksAreRoundAndCoverTheRange() {
    XCTAssertEqual(LineChart.ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 })
    let t = LineChart.ticks(-37, 112)
    XCTAssertEqual(t.first!, -25, accuracy: 1e-9)
    XCTAssertEqual(t.last!, 100, accuracy: 1e-9)
  }

  func testHeatmapMapsLowAndHighToTheColourMapEnds() {
    let map = Heatmap(width: 2, height: 1, values: [0, 1])
    let image = map.image(low: 0, high: 1)
    XCTAssertEqual(image[0, 0, 0], 0.267, accuracy: 1e-3)
    XCTAssertEqual(image[1, 0, 1], 0.906, accuracy: 1e-3)
  }
}
