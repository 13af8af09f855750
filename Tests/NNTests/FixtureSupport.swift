import Foundation
import NN
import Tensor
import XCTest

/// Reference fixtures written by `scripts/reference/make_fixtures.py` (PyTorch).
enum Fixtures {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/reference")

  static func load(_ name: String) throws -> Safetensors.File {
    try Safetensors.read(directory.appendingPathComponent(name + ".safetensors"), requireVersion: false)
  }
}

extension Safetensors.File {
  func tensor(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> Tensor {
    guard let t = tensors[name] else {
      XCTFail("fixture has no tensor \(name)", file: file, line: line)
      return Tensor.zeros([1])
    }
    return t
  }

  /// Tensors whose names start with `prefix`, with the prefix removed.
  func group(_ prefix: String) -> [String: Tensor] {
    Dictionary(
      uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map {
        (String($0.key.dropFirst(prefix.count)), $0.value)
      })
  }
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element.
func assertClose(
  _ a: Tensor, _ b: Tensor, rtol: Float, atol: Float = 1e-6, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
  guard a.shape == b.shape else { return }
  assertClose(a.array, b.array, rtol: rtol, atol: atol, what, file: file, line: line)
}

func assertClose(
  _ a: [Float], _ b: [Float], rtol: Float, atol: Float = 1e-6, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
  var worst = 0
  var worstExcess: Float = -1
  for i in 0..<min(a.count, b.count) {
    let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
    if excess > worstExcess {
      worstExcess = excess
      worst = i
    }
    if a[i].isNaN {
      worstExcess = .infinity
      worst = i
      break
    }
  }
  if worstExcess > 0 {
    XCTFail(
      "\(what): element \(worst) is \(a[worst]), expected \(b[worst]) (rtol \(rtol), atol \(atol))",
      file: file, line: line)
  }
}

/// Asserts ‖a − b‖ ≤ tol·‖b‖ + atol·√n over the whole tensor (the absolute term covers gradients
/// that are rounding noise around zero, such as a bias followed by batch norm).
func assertRelativeL2(
  _ a: Tensor, _ b: Tensor, tol: Float, atol: Float, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
  let x = a.array
  let y = b.array
  var num: Double = 0
  var den: Double = 0
  for i in 0..<min(x.count, y.count) {
    num += Double(x[i] - y[i]) * Double(x[i] - y[i])
    den += Double(y[i]) * Double(y[i])
  }
  let bound = Double(tol) * den.squareRoot() + Double(atol) * Double(x.count).squareRoot()
  if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
    print("L2", what, num.squareRoot() / max(den.squareRoot(), 1e-30), num.squareRoot() / bound)
  }
  XCTAssert(
    num.squareRoot() <= bound,
    "\(what): L2 error \(num.squareRoot()) exceeds \(tol)·‖expected‖ + \(atol)·√n = \(bound)", file: file, line: line)
}
