import Spectral
import Tensor
import XCTest

final class HighPassResidualTests: XCTestCase {
  func testMatchesTorchFormula() throws {
    let f = try SpectralFixtures.load("highpass")
    let images = try f.required("images")
    let expected = try f.required("residual")
    assertClose(HighPassResidual().residual(images), expected, tol: 1e-5, "residual")
    assertClose(ReferenceHighPass.residual(images), expected, tol: 1e-5, "reference residual")
  }

  /// `spectrum()` of the PyTorch reference method, end to end.
  func testLogResidualSpectrumMatchesReferenceMethod() throws {
    let f = try SpectralFixtures.load("highpass")
    let got = Spectrum.logResidualSpectrum(try f.required("images"))
    assertClose(got, try f.required("spectrum"), tol: 1e-5, "log residual spectrum")
  }

  func testFastMatchesReferenceOnOtherShapes() {
    var rng = RNG(seed: 11)
    for shape: Shape in [[1, 3, 2, 2], [2, 3, 5, 3], [1, 1, 2, 9], [3, 3, 16, 16]] {
      let x = Tensor.uniform(shape, rng: &rng)
      assertClose(
        HighPassResidual().residual(x), ReferenceHighPass.residual(x), tol: 1e-5, "residual \(shape)")
    }
  }

  func testConstantImageHasZeroResidual() {
    let r = HighPassResidual().residual(Tensor.full([1, 3, 6, 5], 0.25)).array
    XCTAssertLessThanOrEqual(r.map(abs).max()!, 1e-7)
  }
}
