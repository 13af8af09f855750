import Foundation
import NN
import Tensor
import XCTest

/// Reference fixtures written by `scripts/reference/make_spectral_fixtures.py` (NumPy, SciPy, PyTorch).
enum SpectralFixtures {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/spectral")

  static func load(_ name: String) throws -> Safetensors.File {
    try Safetensors.read(directory.appendingPathComponent(name + ".safetensors"), requireVersion: false)
  }
}

extension Safetensors.File {
  /// The tensor `name`; fails the test (and returns an empty tensor) when the fixture lacks it.
  func required(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
    guard let t = tensors[name] else {
      XCTFail(
        "fixture has no tensor \(name); rerun scripts/reference/make_spectral_fixtures.py", file: file, line: line)
      throw XCTSkip("missing fixture tensor \(name)")
    }
    return t
  }
}

/// Asserts |a − b| ≤ tol·scale elementwise, reporting the worst element; `scale` defaults to max |b|.
///
/// Relative to the largest value, not elementwise: Float32 transforms make errors proportional to the
/// input's norm, so a small bin of a spectrum carries the rounding of the large ones (PyTorch's own
/// Float32 log spectrum is 1.4e-5 off its Float64 value elementwise).
func assertClose(
  _ a: [Double], _ b: [Double], tol: Double, scale: Double? = nil, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
  guard a.count == b.count, !a.isEmpty else { return }
  let s = scale ?? max(b.map(abs).max()!, 1e-30)
  var worst = 0
  var worstError = -1.0
  for i in 0..<a.count {
    let e = a[i].isNaN ? .infinity : abs(a[i] - b[i])
    if e > worstError {
      worstError = e
      worst = i
    }
  }
  if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
    print("max error / scale", what, worstError / s)
  }
  XCTAssert(
    worstError <= tol * s,
    "\(what): element \(worst) is \(a[worst]), expected \(b[worst]); error \(worstError / s) of \(s) > \(tol)",
    file: file, line: line)
}

/// ``assertClose(_:_:tol:scale:_:file:line:)`` for tensors of the same shape.
func assertClose(
  _ a: Tensor, _ b: Tensor, tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
  guard a.shape == b.shape else { return }
  assertClose(a.array.map(Double.init), b.array.map(Double.init), tol: tol, what, file: file, line: line)
}
