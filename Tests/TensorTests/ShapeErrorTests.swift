import Foundation
import Tensor
import XCTest

/// Mismatched shapes are programming errors: the process stops with a message naming both shapes.
/// Each case runs in a child process (this test binary, selecting one trigger test by name).
final class ShapeErrorTests: XCTestCase {
  static let triggers: [String: (String, [String])] = [
    "conv": ("testTriggerConv", ["[2, 4, 8, 8]", "[16, 3, 3, 3]"]),
    "add": ("testTriggerAdd", ["[2, 3]", "[3, 2]"]),
    "linear": ("testTriggerLinear", ["[5, 7]", "[4, 6]"]),
    "batchNorm": ("testTriggerBatchNorm", ["[5]", "[2, 4, 3, 3]"]),
  ]

  var trigger: String? { ProcessInfo.processInfo.environment["MODELPRINT_SHAPE_TRIGGER"] }

  func testTriggerConv() {
    guard trigger == "conv" else { return }
    _ = conv2d(Tensor.zeros([2, 4, 8, 8]), weight: Tensor.zeros([16, 3, 3, 3]))
  }

  func testTriggerAdd() {
    guard trigger == "add" else { return }
    _ = Tensor.zeros([2, 3]) + Tensor.zeros([3, 2])
  }

  func testTriggerLinear() {
    guard trigger == "linear" else { return }
    _ = linear(Tensor.zeros([5, 7]), weight: Tensor.zeros([4, 6]))
  }

  func testTriggerBatchNorm() {
    guard trigger == "batchNorm" else { return }
    _ = batchNorm(
      Tensor.zeros([2, 4, 3, 3]), weight: Tensor.zeros([5]), bias: Tensor.zeros([5]), runningMean: nil,
      runningVar: nil, training: true)
  }

  func testMismatchedShapesStopWithBothShapes() throws {
    guard trigger == nil else { return }
    let binary = URL(fileURLWithPath: CommandLine.arguments[0])
    for (name, (test, shapes)) in Self.triggers.sorted(by: { $0.key < $1.key }) {
      let process = Process()
      process.executableURL = binary
      process.arguments = ["TensorTests.ShapeErrorTests/\(test)"]
      var env = ProcessInfo.processInfo.environment
      env["MODELPRINT_SHAPE_TRIGGER"] = name
      env["SWIFT_BACKTRACE"] = "enable=no"
      process.environment = env
      let pipe = Pipe()
      process.standardError = pipe
      process.standardOutput = pipe
      try process.run()
      let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      XCTAssertNotEqual(process.terminationStatus, 0, "\(name): the child should stop")
      for s in shapes {
        XCTAssert(output.contains(s), "\(name): message should name \(s); got:\n\(output.suffix(600))")
      }
    }
  }
}
