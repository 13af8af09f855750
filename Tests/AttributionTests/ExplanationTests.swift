import Attribution
import XCTest

/// The band weights of ``Explanation`` on hand-made profiles, where the answer is known.
final class ExplanationTests: XCTestCase {
  /// Spectra of one image whose profile is `profile` (side 8: 6 radii).
  static func spectra(_ profile: [Float], count: Int = 1) -> ResidualSpectra {
    ResidualSpectra(
      side: 8, count: count, spectrum: [Float](repeating: Float(count), count: 64),
      profile: profile.map { $0 * Float(count) })
  }

  func testBandsWeighWhereTheImageIsCloserToTheMatchedModelThanToAnyOther() throws {
    let image = Self.spectra([0, 0, 0, 0, 0, 0])
    // The matched model agrees with the image at low radii; the other agrees at high radii.
    let matched = Self.spectra([0, 0, 0, 3, 3, 3], count: 2)
    let other = Self.spectra([5, 5, 5, 0, 0, 0], count: 3)
    let x = try Explanation(image: image, model: "m", models: ["m": matched, "o": other], bands: 2, marked: 1)
    XCTAssertEqual(x.bands.map(\.low), [0, 3])
    XCTAssertEqual(x.bands.map(\.high), [3, 6])
    XCTAssertEqual(x.bands[0].matchedDistance, 0)
    XCTAssertEqual(x.bands[0].otherDistance, 5)
    XCTAssertEqual(x.bands[0].otherModel, "o")
    XCTAssertEqual(x.bands[0].weight, 5)
    XCTAssertEqual(x.bands[1].weight, -3)
    XCTAssertEqual(x.bands.map(\.marked), [true, false])
    // Means, not sums: the model's spectrum map is its per-image mean.
    XCTAssertEqual(x.modelSpectrum, [Float](repeating: 1, count: 64))
    XCTAssertEqual(x.difference, [Float](repeating: 0, count: 64))
    let figure = x.figure(scale: 2)
    XCTAssertEqual(figure.height, 16 + 2 * 6)
    XCTAssertTrue(x.profileChart.contains("0–3"))
  }

  func testModelWithoutSpectraIsAnError() {
    XCTAssertThrowsError(
      try Explanation(image: Self.spectra([0, 0, 0, 0, 0, 0]), model: "m", models: [:])
    ) { XCTAssertEqual($0 as? Explanation.Problem, .noSpectra(model: "m")) }
  }
}
