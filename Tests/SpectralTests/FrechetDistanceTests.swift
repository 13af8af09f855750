import Spectral
import Tensor
import XCTest

final class FrechetDistanceTests: XCTestCase {
  func testMatchesScipySqrtm() throws {
    let f = try SpectralFixtures.load("frechet")
    for key in ["d8", "d40"] {
      let a = try f.required("a.\(key)")
      let b = try f.required("b.\(key)")
      let expected = Double(try f.required("fd.\(key)").item)
      let got = try FrechetDistance.squared(a, b)
      if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
        print("relative error Fréchet \(key)", abs(got - expected) / abs(expected))
      }
      XCTAssertEqual(got, expected, accuracy: 1e-4 * abs(expected), key)
      // Symmetric in its arguments.
      XCTAssertEqual(try FrechetDistance.squared(b, a), got, accuracy: 1e-9 * abs(got), key)
    }
  }

  func testStatisticsAreNumpyMeanAndCov() throws {
    // Three 2-D vectors: mean (2, 1); deviations (−1, −1), (0, 0), (1, 1) → cov [[1, 1], [1, 1]].
    let s = try FrechetDistance.Statistics(vectors: [[1.0, 0.0], [2, 1], [3, 2]])
    XCTAssertEqual(s.count, 3)
    XCTAssertEqual(s.mean, [2, 1])
    assertClose(s.covariance, [1, 1, 1, 1], tol: 1e-15, scale: 1, "cov")
  }

  func testKnownGaussians() throws {
    // Diagonal covariances: d² = |Δμ|² + Σ (√a − √b)².
    let a = FrechetTestData.set(count: 4000, mean: [0, 0, 1], std: [1, 2, 3], seed: 1)
    let b = FrechetTestData.set(count: 4000, mean: [1, 0, 1], std: [1, 1, 1], seed: 2)
    let sa = try FrechetDistance.Statistics(vectors: a)
    let sb = try FrechetDistance.Statistics(vectors: b)
    // The closed form on the sample statistics, which are close to diagonal.
    var expected = 0.0
    for j in 0..<3 {
      let dm = sa.mean[j] - sb.mean[j]
      let ds = sa.covariance[j * 3 + j].squareRoot() - sb.covariance[j * 3 + j].squareRoot()
      expected += dm * dm + ds * ds
    }
    XCTAssertEqual(try FrechetDistance.squared(sa, sb), expected, accuracy: 0.05)
    XCTAssertEqual(expected, 1 + 0 + 1 + 4, accuracy: 0.2)
  }

  func testIdenticalAndRankDeficientSets() throws {
    // 5 vectors of dimension 8: the covariance has rank 4, and sqrtm of a singular product is where the
    // eigenvalue clamp matters. The distance of a set to itself is 0 up to rounding.
    let a = FrechetTestData.set(
      count: 5, mean: Array(repeating: 0, count: 8), std: Array(repeating: 1, count: 8), seed: 3)
    let d = try FrechetDistance.squared(a, a)
    XCTAssert(d.isFinite)
    // Error model. A symmetric eigensolver returns each eigenvalue of M within γ·‖M‖₂, γ = c·d·u
    // (u = 2⁻⁵³, c a small constant of the LAPACK backward-error bound; 4 here). For Σ1 = Σ2 = Σ the
    // matrix M = Λ^½ B Λ^½ has ‖M‖ = ‖Σ‖², and each of its d − r zero eigenvalues (r = rank Σ) can come
    // back as +γ‖Σ‖², whose square root √γ·‖Σ‖ survives the clamp. So |d²| ≤ 2(d − r)·√γ·‖Σ‖ plus the
    // γ·tr Σ of the traces; ‖Σ‖_F bounds ‖Σ‖₂. Which BLAS kernels run only moves where in that band
    // the result lands (about −3e-8 with one OpenBLAS core type, ~1e-15 with another).
    let s = try FrechetDistance.Statistics(vectors: a)
    let dim = 8
    let rank = 4
    let gamma = 4 * Double(dim) * Double.ulpOfOne / 2
    let norm = s.covariance.reduce(0) { $0 + $1 * $1 }.squareRoot()
    let trace = (0..<dim).reduce(0) { $0 + s.covariance[$1 * dim + $1] }
    let bound = 2 * Double(dim - rank) * gamma.squareRoot() * norm + 4 * gamma * trace
    XCTAssertLessThanOrEqual(abs(d), bound, "d² of a set to itself, bound \(bound) from ‖Σ‖ = \(norm)")
    // The bound is far below the distance of a genuinely different set, so it still tells sets apart.
    let b = a.map { $0.map { $0 * 1.1 } }
    XCTAssertGreaterThan(try FrechetDistance.squared(a, b), 100 * bound)
  }

  func testTooFewVectors() {
    XCTAssertThrowsError(try FrechetDistance.squared([[1.0, 2.0]], [[1.0, 2.0], [3, 4]])) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .tooFewVectors(set: "the first set", count: 1))
      XCTAssert("\(error)".contains("at least 2"), "\(error)")
    }
    XCTAssertThrowsError(try FrechetDistance.squared([[1.0], [2.0]], [[Double]]())) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .tooFewVectors(set: "the second set", count: 0))
    }
  }

  func testDimensionMismatch() {
    XCTAssertThrowsError(try FrechetDistance.squared([[1.0, 2.0], [3, 4]], [[1.0, 2.0, 3.0], [3, 4, 5]])) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .dimensionMismatch(first: 2, second: 3))
      XCTAssert("\(error)".contains("dimension 2"), "\(error)")
    }
    XCTAssertThrowsError(try FrechetDistance.Statistics(vectors: [[1.0, 2.0], [3.0]], name: "real")) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .raggedVectors(set: "real", index: 1, expected: 2, found: 1))
    }
    XCTAssertThrowsError(try FrechetDistance.Statistics(vectors: [[Double](), []])) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .emptyVectors(set: "the set"))
    }
  }

  func testNonFiniteValues() {
    XCTAssertThrowsError(try FrechetDistance.squared([[1.0, 2.0], [3, 4]], [[1.0, 2.0], [3, .nan]])) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .nonFinite(set: "the second set", vector: 1, component: 1))
      XCTAssert("\(error)".contains("NaN or infinite"), "\(error)")
    }
    let t = Tensor([0, 1, Float.infinity, 2], shape: [2, 2])
    XCTAssertThrowsError(try FrechetDistance.Statistics(vectors: t, name: "fake")) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .nonFinite(set: "fake", vector: 1, component: 0))
    }
    XCTAssertThrowsError(try FrechetDistance.Statistics(vectors: [[1e300, 0], [-1e300, 0]])) { error in
      XCTAssertEqual(error as? FrechetDistanceError, .covarianceOverflow(set: "the set"))
    }
  }
}

/// Independent Gaussian samples for the closed-form checks.
enum FrechetTestData {
  static func set(count: Int, mean: [Double], std: [Double], seed: UInt64) -> [[Double]] {
    var rng = RNG(seed: seed)
    return (0..<count).map { _ in (0..<mean.count).map { mean[$0] + std[$0] * Double(rng.normal()) } }
  }
}
