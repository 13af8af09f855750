import Foundation
import NN
import Tensor
import XCTest

/// Checkpoint files: round trip, and every kind of bad file gives a typed error naming the file.
final class SafetensorsTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("modelprint-st-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  func model() -> Sequential {
    var rng = RNG(seed: 3)
    return Sequential(Conv2D(3, 8, kernel: 3, padding: 1, rng: &rng), BatchNorm2D(8), Activation(.relu))
  }

  func goodFile() throws -> URL {
    let url = dir.appendingPathComponent("model.safetensors")
    try model().save(to: url, metadata: ["architecture": "test", "seed": "3", "config": "{\"width\":8}"])
    return url
  }

  func expectError(_ url: URL, _ check: (SafetensorsError) -> Bool, file: StaticString = #filePath, line: UInt = #line)
  {
    do {
      _ = try Safetensors.read(url)
      XCTFail("reading \(url.lastPathComponent) should fail", file: file, line: line)
    } catch let e as SafetensorsError {
      XCTAssert(check(e), "unexpected error \(e)", file: file, line: line)
      XCTAssert(e.description.contains(url.path), "message must name the file: \(e)", file: file, line: line)
    } catch {
      XCTFail("untyped error \(error)", file: file, line: line)
    }
  }

  func testRoundTripKeepsValuesAndMetadata() throws {
    let url = try goodFile()
    let m = model()
    for p in m.parameters { for i in 0..<p.count { p.pointer[i] = 0 } }
    let meta = try m.load(from: url)
    XCTAssertEqual(meta["architecture"], "test")
    XCTAssertEqual(meta["config"], "{\"width\":8}")
    XCTAssertEqual(meta[Safetensors.versionKey], String(Safetensors.formatVersion))
    let original = model().stateDict()
    for (name, t) in m.stateDict() { XCTAssertEqual(t.array, original[name]!.array, name) }
    // No temporary file is left beside the checkpoint.
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
  }

  func testTruncatedFile() throws {
    let url = try goodFile()
    let data = try Data(contentsOf: url)
    for keep in [0, 5, 40, data.count - 7] {
      let bad = dir.appendingPathComponent("truncated-\(keep).safetensors")
      try data.prefix(keep).write(to: bad)
      expectError(bad) { if case .truncated = $0 { return true } else { return false } }
    }
  }

  func testCorruptedHeader() throws {
    let url = try goodFile()
    var data = try Data(contentsOf: url)
    for i in 8..<40 { data[i] = 0x7B }  // '{' repeated: not JSON
    let bad = dir.appendingPathComponent("corrupt.safetensors")
    try data.write(to: bad)
    expectError(bad) { if case .corrupted = $0 { return true } else { return false } }
    let garbage = dir.appendingPathComponent("garbage.safetensors")
    try Data((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: garbage)
    expectError(garbage) { e in
      switch e {
      case .corrupted, .truncated: return true
      default: return false
      }
    }
  }

  func testWrongOrMissingVersion() throws {
    let t = ["w": Tensor.zeros([2])]
    let wrong = dir.appendingPathComponent("v99.safetensors")
    try Safetensors.write(t, to: wrong)
    // Rewrite the version in place (same length keeps the header valid).
    var data = try Data(contentsOf: wrong)
    let text = String(decoding: data, as: UTF8.self)
    let range = text.range(of: "\"format_version\":\"1\"")!
    let offset = text.utf8.distance(from: text.startIndex, to: range.upperBound) - 2
    data[offset] = UInt8(ascii: "9")
    try data.write(to: wrong)
    expectError(wrong) { if case .wrongVersion(_, "9", 1) = $0 { return true } else { return false } }
    // A PyTorch-written file has no version: accepted only when asked for.
    let foreign = Fixtures.directory.appendingPathComponent("ops.safetensors")
    expectError(foreign) { if case .wrongVersion(_, nil, _) = $0 { return true } else { return false } }
    XCTAssertNoThrow(try Safetensors.read(foreign, requireVersion: false))
  }

  func testMissingFileAndDirectory() {
    expectError(dir.appendingPathComponent("absent.safetensors")) {
      if case .unreadable = $0 { return true } else { return false }
    }
    expectError(dir) { if case .unreadable = $0 { return true } else { return false } }
  }

  func testCheckpointOfAnotherArchitecture() throws {
    let url = try goodFile()
    var rng = RNG(seed: 1)
    let other = Sequential(Conv2D(3, 16, kernel: 3, padding: 1, rng: &rng))
    do {
      try other.load(from: url)
      XCTFail("loading a checkpoint of another architecture should fail")
    } catch let e as SafetensorsError {
      XCTAssert(e.description.contains(url.path) && e.description.contains("[16, 3, 3, 3]"), "\(e)")
    }
  }
}
