import Foundation
import Spectral
import Tensor
import XCTest

final class FFT2DTests: XCTestCase {
  /// |FFT2| against the Float64 DFT by definition, within 1e-5 of the largest magnitude.
  func testMatchesNaiveDFTOnOddEvenAndPrimeSizes() {
    var rng = RNG(seed: 7)
    let shapes: [Shape] = [
      [1, 1, 1, 1], [2, 3, 7, 5], [1, 2, 8, 8], [2, 3, 12, 10], [1, 3, 31, 17], [1, 1, 64, 64], [1, 2, 1, 9],
      [1, 2, 6, 1], [1, 1, 13, 2],
    ]
    for shape in shapes {
      let x = Tensor.uniform(shape, -1, 1, rng: &rng)
      let fast = FFT2D.magnitude(x)
      XCTAssertEqual(fast.shape, shape)
      assertClose(fast.array.map(Double.init), ReferenceDFT.magnitude(x), tol: 1e-5, "|FFT2| \(shape)")
    }
  }

  func testReferenceDFTKnownValues() {
    // A constant plane has only a DC term, equal to the sum.
    let (re, im) = ReferenceDFT.transform([Double](repeating: 2, count: 6), height: 2, width: 3)
    assertClose(re, [12, 0, 0, 0, 0, 0], tol: 1e-12, scale: 1, "DFT of a constant")
    assertClose(im, [0, 0, 0, 0, 0, 0], tol: 1e-12, scale: 1, "DFT of a constant, imaginary")
    // An impulse at [0, 1] of a 1×4 plane: e^(−2πi·v/4) = 1, −i, −1, i.
    let (re2, im2) = ReferenceDFT.transform([0, 1, 0, 0], height: 1, width: 4)
    assertClose(re2, [1, 0, -1, 0], tol: 1e-12, scale: 1, "DFT of an impulse")
    assertClose(im2, [0, -1, 0, 1], tol: 1e-12, scale: 1, "DFT of an impulse, imaginary")
  }

  func testSamePlanesGiveSameResultsAcrossThreadCounts() {
    var rng = RNG(seed: 8)
    let x = Tensor.uniform([5, 3, 24, 20], rng: &rng)
    Threads.set(1)
    let one = FFT2D.magnitude(x).array
    Threads.set(2)
    defer { Threads.set(1) }
    XCTAssertEqual(FFT2D.magnitude(x).array, one)
  }

  func testSinglePlaneAPIMatchesBatch() {
    var rng = RNG(seed: 9)
    let x = Tensor.uniform([1, 1, 11, 6], rng: &rng)
    var out = [Float](repeating: 0, count: 66)
    FFT2D(height: 11, width: 6).magnitude(x.pointer, into: &out)
    XCTAssertEqual(out, FFT2D.magnitude(x).array)
  }

  func testFFTShiftMatchesNumpyOnOddAndEvenSizes() {
    // numpy.fft.fftshift([0, 1, 2, 3, 4]) = [3, 4, 0, 1, 2]; [0, 1, 2, 3] → [2, 3, 0, 1].
    let odd = Spectrum.fftshift(Tensor([0, 1, 2, 3, 4], shape: [1, 5]))
    XCTAssertEqual(odd.array, [3, 4, 0, 1, 2])
    let even = Spectrum.fftshift(Tensor([0, 1, 2, 3], shape: [4, 1]))
    XCTAssertEqual(even.array, [2, 3, 0, 1])
    // 3×4: rows roll by 1, columns by 2.
    //  0  1  2  3        10 11  8  9
    //  4  5  6  7   →     2  3  0  1
    //  8  9 10 11         6  7  4  5
    let plane = Spectrum.fftshift(Tensor((0..<12).map(Float.init), shape: [1, 1, 3, 4]))
    XCTAssertEqual(plane.array, [10, 11, 8, 9, 2, 3, 0, 1, 6, 7, 4, 5])
    XCTAssertEqual(plane.shape, [1, 1, 3, 4])
    // Every plane of a batch is shifted on its own.
    let batch = Spectrum.fftshift(Tensor([0, 1, 2, 10, 11, 12], shape: [2, 1, 3]))
    XCTAssertEqual(batch.array, [2, 0, 1, 12, 10, 11])
  }

  func testFFTShiftPutsDCAtTheNumpyCentre() {
    var rng = RNG(seed: 10)
    let x = Tensor.uniform([1, 1, 7, 6], 0.5, 1, rng: &rng)
    let shifted = Spectrum.fftshift(FFT2D.magnitude(x)).array
    let dc = x.array.reduce(0, +)
    XCTAssertEqual(shifted[3 * 6 + 3], dc, accuracy: 1e-5 * dc)
    XCTAssertEqual(shifted.max(), shifted[3 * 6 + 3])
  }

  /// The fused, parallel input path equals fftshift(logMagnitude(·)) up to 3 units in the last place
  /// (``Log1p``'s 2 from the exact value plus glibc log1pf's own, under 1), on odd, even and degenerate planes, in batches larger than the thread count; the
  /// placement is checked against the index formula written out.
  func testLogMagnitudeCentredMatchesItsReferenceTwin() {
    var rng = RNG(seed: 11)
    let shapes: [Shape] = [
      [1, 1], [5, 4], [3, 1, 7, 6], [2, 3, 8, 8], [9, 3, 16, 9], [1, 2, 1, 5], [4, 1, 6, 1],
    ]
    for shape in shapes {
      let m = Tensor.uniform(shape, 0, 3, rng: &rng)
      let reference = Spectrum.fftshift(Spectrum.logMagnitude(m, scale: 255)).array
      let fused = Spectrum.logMagnitudeCentred(m, scale: 255)
      XCTAssertEqual(fused.shape, shape)
      let h = shape[-2]
      let w = shape[-1]
      let values = m.array
      for (i, (got, want)) in zip(fused.array, reference).enumerated() {
        XCTAssertLessThanOrEqual(abs(got - want), 3 * want.ulp, "\(shape) at \(i)")
        // Where it came from, by the formula: out[y, x] = in[(y − ⌊h/2⌋) mod h, (x − ⌊w/2⌋) mod w].
        let (p, y, x) = (i / (h * w), i / w % h, i % w)
        let source = values[p * h * w + ((y - h / 2 + h) % h) * w + (x - w / 2 + w) % w]
        XCTAssertLessThanOrEqual(abs(got - Foundation.log1p(255 * source)), 3 * want.ulp, "\(shape) at \(i)")
      }
    }
  }

  func testLogScales() {
    let m = Tensor([0, 1, 100], shape: [3])
    let log = Spectrum.logMagnitude(m, scale: 255).array
    XCTAssertEqual(log[0], 0)
    XCTAssertEqual(log[1], Float(Foundation.log1p(255.0)), accuracy: 1e-6)
    let db = Spectrum.decibels(m).array
    XCTAssertEqual(db[0], -160, accuracy: 1e-3)
    XCTAssertEqual(db[1], 0, accuracy: 1e-6)
    XCTAssertEqual(db[2], 40, accuracy: 1e-5)
  }
}
