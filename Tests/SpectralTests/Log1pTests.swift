import Foundation
import Spectral
import Tensor
import XCTest

final class Log1pTests: XCTestCase {
  /// Units in the last place of the Float64 log1p that the fast twin may differ by: the polynomial's
  /// own relative error (about 1e-7, under one unit) plus the rounding of its dozen float operations,
  /// which the final additions keep to about one unit more.
  let allowedUnits = 2.0

  private func units(_ got: Float, _ x: Float) -> Double {
    let reference = Foundation.log1p(Double(x))
    return abs(Double(got) - reference) / Double(Float(reference).ulp)
  }

  /// A log-spaced sweep over every binade from the subnormals to the largest finite float, the values
  /// where 1 + x loses digits, and the breakpoint √2 − 1 of the mantissa split.
  func testWithinTwoUnitsOfTheFloat64Reference() {
    var xs: [Float] = [0, .leastNonzeroMagnitude, .leastNormalMagnitude, 1e-10, 5.9604645e-8, 1.1920929e-7, 1]
    var v: Float = .leastNonzeroMagnitude
    while v < 3e38 {
      xs.append(v)
      v = v * 1.0007 + .leastNonzeroMagnitude
    }
    let edge = Float(2).squareRoot() - 1
    var e = edge
    for _ in 0..<64 {
      xs += [e, edge - (e - edge)]
      e = e.nextUp
    }
    var rng = RNG(seed: 3)
    xs += (0..<20_000).map { _ in rng.uniform(0, 2000) }
    var out = [Float](repeating: 0, count: xs.count)
    xs.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { Log1p.apply(x.baseAddress!, $0.baseAddress!, count: x.count) }
    }
    var worst = 0.0
    var at: Float = 0
    for (x, y) in zip(xs, out) where units(y, x) > worst {
      worst = units(y, x)
      at = x
    }
    XCTAssertLessThanOrEqual(worst, allowedUnits, "worst at x = \(at)")
  }

  /// The scale multiplies before the logarithm, as in log(1 + 255·|F|).
  func testScaleAppliesToTheArgument() {
    let xs: [Float] = [0, 0.001, 0.5, 3, 17]
    var out = [Float](repeating: 0, count: xs.count)
    xs.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { Log1p.apply(x.baseAddress!, $0.baseAddress!, count: x.count, scale: 255) }
    }
    for (x, y) in zip(xs, out) { XCTAssertLessThanOrEqual(units(y, 255 * x), allowedUnits, "x = \(x)") }
  }

  /// Outside the polynomial's domain the answer is the reference's own, also when the odd value sits
  /// among ordinary ones.
  func testValuesOutsideTheDomainGetTheReferenceAnswer() {
    let odd: [Float] = [-0.0, -0.5, -1, -2, .infinity, -.infinity, .nan, .greatestFiniteMagnitude]
    for value in odd {
      var xs: [Float] = [0.25, 2, 7, 100, 0.5, 3, 9, 1, 4, 6]
      xs[5] = value
      var out = [Float](repeating: 0, count: xs.count)
      xs.withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { Log1p.apply(x.baseAddress!, $0.baseAddress!, count: x.count) }
      }
      let expected = Foundation.log1p(value)
      if expected.isNaN {
        XCTAssertTrue(out[5].isNaN, "log1p(\(value))")
      } else {
        XCTAssertEqual(out[5].bitPattern, expected.bitPattern, "log1p(\(value))")
      }
      XCTAssertLessThanOrEqual(units(out[0], 0.25), allowedUnits)
    }
  }
}
