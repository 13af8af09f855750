import Spectral
import Tensor
import XCTest

final class AzimuthalIntegrationTests: XCTestCase {
  func testProfilesMatchNumpy() throws {
    let f = try SpectralFixtures.load("azimuthal")
    for key in ["32x32", "33x40"] {
      let images = try f.required("images.\(key)")
      let expected = try f.required("profiles.\(key)")
      let got = AzimuthalIntegration.profiles(images)
      XCTAssertEqual(
        expected.shape[1], AzimuthalIntegration.radiusCount(height: images.shape[2], width: images.shape[3]))
      assertClose(got, expected, tol: 1e-5, "profiles \(key)")
      let mean = AzimuthalIntegration.meanProfile(images)
      assertClose(
        Tensor(mean, shape: [mean.count]), try f.required("mean.\(key)"), tol: 1e-5, "mean \(key)")
    }
  }

  func testRadiusCount() {
    // Centre (H/2, W/2); the farthest pixel of 32×32 is (0, 0): ⌊√(16² + 16²)⌋ = 22.
    XCTAssertEqual(AzimuthalIntegration.radiusCount(height: 32, width: 32), 23)
    // 33×40: centre (16, 20), farthest (0, 0) or (32, 0): ⌊√(16² + 20²)⌋ = 25.
    XCTAssertEqual(AzimuthalIntegration.radiusCount(height: 33, width: 40), 26)
    XCTAssertEqual(AzimuthalIntegration.radiusCount(height: 1, width: 1), 1)
    // 3×3: centre (1, 1), corners at √2.
    XCTAssertEqual(AzimuthalIntegration.radiusCount(height: 3, width: 3), 2)
  }

  func testGrayInputEqualsRepeatedChannels() {
    var rng = RNG(seed: 12)
    let gray = Tensor.uniform([2, 1, 9, 8], rng: &rng)
    let g = gray.array
    var rgb: [Float] = []
    for b in 0..<2 {
      for _ in 0..<3 { rgb += g[(b * 72)..<((b + 1) * 72)] }
    }
    let fromRGB = AzimuthalIntegration.profiles(Tensor(rgb, shape: [2, 3, 9, 8]))
    assertClose(fromRGB, AzimuthalIntegration.profiles(gray), tol: 1e-5, "gray vs rgb")
  }
}
