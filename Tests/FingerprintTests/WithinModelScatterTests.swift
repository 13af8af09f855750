import Fingerprint
import Tensor
import XCTest

/// The within-model scatter the whitening and the gallery metric share, against the textbook formula.
final class WithinModelScatterTests: XCTestCase {
  /// On random groups of random sizes, the lower triangle equals Σ (x − m)(x − m)ᵀ / divisor computed as
  /// the full matrix, and the upper triangle stays 0. Both sum the same Float64 products in another
  /// order: at most 40 terms of magnitude ≤ 25 per entry, so they agree to well within 1e-12.
  func testLowerTriangleIsTheWithinGroupScatter() {
    var rng = RNG(seed: 7)
    for trial in 0..<5 {
      let d = 1 + trial * 2
      let groups: [[[Double]]] = (0..<(1 + trial)).map { _ in
        let n = 1 + Int(rng.uniform() * 8)
        return (0..<n).map { _ in (0..<d).map { _ in Double(10 * rng.uniform() - 5) } }
      }
      let divisor = Double(groups.reduce(0) { $0 + $1.count })
      let s = WithinModelScatter.lowerTriangle(groups, dimension: d, divisor: divisor)
      var full = [Double](repeating: 0, count: d * d)
      for xs in groups {
        let m = (0..<d).map { j in xs.reduce(0) { $0 + $1[j] } / Double(xs.count) }
        for x in xs { for a in 0..<d { for b in 0..<d { full[a * d + b] += (x[a] - m[a]) * (x[b] - m[b]) / divisor } } }
      }
      for a in 0..<d {
        for b in 0..<d {
          let expected = b <= a ? full[a * d + b] : 0
          XCTAssertEqual(s[a * d + b], expected, accuracy: 1e-12, "trial \(trial), entry \(a), \(b)")
        }
      }
    }
  }

  /// A group of one vector scatters nothing: it is its own mean.
  func testSingletonGroupsScatterNothing() {
    let s = WithinModelScatter.lowerTriangle([[[1, 2, 3]], [[-4, 0.5, 9]]], dimension: 3, divisor: 2)
    XCTAssertEqual(s, [Double](repeating: 0, count: 9))
  }
}
