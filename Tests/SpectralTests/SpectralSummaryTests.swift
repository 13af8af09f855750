import Spectral
import Tensor
import XCTest

final class SpectralSummaryTests: XCTestCase {
  func testBatchedMeansEqualOneShotComputation() {
    var rng = RNG(seed: 5)
    let images = Tensor.uniform([5, 3, 12, 12], rng: &rng)
    var summary = SpectralSummary(side: 12)
    // Two uneven batches must give the same means as all images at once.
    let first = Tensor(Array(images.array[0..<(3 * 432)]), shape: [3, 3, 12, 12])
    let second = Tensor(Array(images.array[(3 * 432)...]), shape: [2, 3, 12, 12])
    summary.add(first, residual: HighPassResidual())
    summary.add(second, residual: HighPassResidual())
    XCTAssertEqual(summary.count, 5)
    let residual = HighPassResidual().residual(images)
    let profile = AzimuthalIntegration.meanProfile(residual)
    for (a, b) in zip(summary.meanProfile, profile) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    let logSpectra = Spectrum.logResidualSpectrum(images).array
    for i in [0, 17, 77, 143] {
      var expected: Double = 0
      for p in 0..<15 { expected += Double(logSpectra[p * 144 + i]) / 15 }
      XCTAssertEqual(Double(summary.meanLogSpectrum[i]), expected, accuracy: 1e-4)
    }
  }
}
