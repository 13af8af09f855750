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

/// The error model of the Float64 model fixtures (scripts/reference/error_model.py): every op of the
/// Float32 engine is backward stable with a normwise error of ε = √n·u per element (n the longest sum
/// of the network, u = 2⁻²⁴; random rounding), and the fixture stores `sens.<name>`, how much such
/// errors grow by the time they reach result `name` (measured in Float64 by perturbing every op). The
/// engine's result must then lie within λ·ε·sens + 2u·‖exact‖ of the exact one (λ = 10: the
/// probabilistic bound of a reduction fails with probability 2e⁻⁵⁰; the last term is the Float32
/// storage of both results). The fixtures' inputs keep every ReLU input more than λ·ε from its kink,
/// where a gradient would jump.
struct ErrorModel {
  static let lambda = 10.0
  static let unitRoundoff = 0x1p-24
  let fixture: Safetensors.File
  let epsilon: Double

  init(_ fixture: Safetensors.File, file: StaticString = #filePath, line: UInt = #line) {
    let n = fixture.metadata["reduction_length"].flatMap(Int.init)
    XCTAssertNotNil(n, "fixture metadata has no reduction_length", file: file, line: line)
    self.init(fixture, reduction: n ?? 1)
  }

  /// The model for results whose longest sum has `reduction` terms.
  init(_ fixture: Safetensors.File, reduction: Int) {
    self.fixture = fixture
    epsilon = Double(reduction).squareRoot() * Self.unitRoundoff
  }

  /// The largest ‖computed − exact‖ the model allows for result `name`.
  func bound(_ name: String, norm: Double) -> Double {
    let sens = Double(fixture.tensor("sens.\(name)").item)
    return Self.lambda * epsilon * sens + 2 * Self.unitRoundoff * norm
  }

  /// Asserts ‖a − fixture[name]‖ ≤ ``bound(_:norm:)``.
  func check(
    _ a: [Float], _ name: String, _ what: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    let b = fixture.tensor(name, file: file, line: line).array
    XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
    var err: Double = 0
    var norm: Double = 0
    for (x, y) in zip(a, b) {
      err += (Double(x) - Double(y)) * (Double(x) - Double(y))
      norm += Double(y) * Double(y)
    }
    err = err.squareRoot()
    let allowed = bound(name, norm: norm.squareRoot())
    if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
      print("error model", what, err, "of", allowed, String(format: "(%.3f)", err / allowed))
    }
    XCTAssert(
      err <= allowed,
      "\(what): ‖error‖ \(err) exceeds the error model's λ·ε·sens + 2u·‖exact‖ = \(allowed)", file: file, line: line)
  }

  func check(_ a: Tensor, _ name: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, fixture.tensor(name).shape, "\(what): shape", file: file, line: line)
    check(a.array, name, what, file: file, line: line)
  }
}
