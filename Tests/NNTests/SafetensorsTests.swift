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

  /// Float16 storage against NumPy's binary16 rounding (`scripts/reference/make_float16_fixture.py`):
  /// reading F16 gives its values, and the writer produces NumPy's bits, ties to even and subnormals included.
  func testFloat16MatchesNumPy() throws {
    let fixture = Fixtures.directory.appendingPathComponent("float16.safetensors")
    let file = try Safetensors.read(fixture, requireVersion: false)
    let x = file.tensors["x"]!.array
    let half = file.tensors["x.f16"]!.array
    XCTAssertEqual(x.count, half.count)
    for (v, h) in zip(x, half) { XCTAssertEqual(Float(Float16(v)), h, "binary16 rounding of \(v)") }

    let url = dir.appendingPathComponent("half.safetensors")
    try Safetensors.write(["x": file.tensors["x"]!], to: url, storage: .float16)
    let written = try Data(contentsOf: url)
    let reference = try Data(contentsOf: fixture)
    // Both files end with the tensor's binary16 data.
    let bytes = 2 * x.count
    XCTAssertEqual(written.suffix(bytes), reference.suffix(bytes))
    XCTAssertEqual(try Safetensors.read(url).tensors["x"]!.array, half)
  }

  /// The error model of Float16 storage: relative error at most 2⁻¹¹ for magnitudes from 2⁻¹⁴ up, absolute
  /// error at most 2⁻²⁵ below; a tensor with a value binary16 cannot hold stays F32, exactly; F32 tensors
  /// precede F16 ones so every value is aligned to its size.
  func testFloat16StorageErrorBoundsAndFallback() throws {
    var rng = RNG(seed: 11)
    let n = 4096
    let wide = Tensor(
      (0..<n).map { _ in
        let magnitude = Float(pow(2.0, Double(rng.uniform(-30, 15))))
        return rng.uniform(0, 1) < 0.5 ? -magnitude : magnitude
      }, shape: [64, 64])
    let large = Tensor((0..<n).map { Float($0) * 20 }, shape: [n])  // up to 81 900: beyond binary16
    let special = Tensor([1, .nan, -2], shape: [3])
    let url = dir.appendingPathComponent("mixed.safetensors")
    try Safetensors.write(["a.wide": wide, "b.large": large, "c.special": special], to: url, storage: .float16)
    let file = try Safetensors.read(url)
    for (v, r) in zip(wide.array, file.tensors["a.wide"]!.array) {
      let bound = abs(v) >= Float(pow(2.0, -14.0)) ? abs(v) * Float(pow(2.0, -11.0)) : Float(pow(2.0, -25.0))
      XCTAssertLessThanOrEqual(abs(v - r), bound, "\(v) read back as \(r)")
    }
    XCTAssertEqual(file.tensors["b.large"]!.array, large.array)
    let s = file.tensors["c.special"]!.array
    XCTAssertEqual(s[0], 1)
    XCTAssert(s[1].isNaN)
    XCTAssertEqual(s[2], -2)

    let data = try Data(contentsOf: url)
    let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
    func entry(_ name: String) -> (dtype: String, begin: Int) {
      let e = header[name] as! [String: Any]
      return (e["dtype"] as! String, (e["data_offsets"] as! [Int])[0])
    }
    XCTAssertEqual(entry("a.wide").dtype, "F16")
    XCTAssertEqual(entry("b.large").dtype, "F32")
    XCTAssertEqual(entry("c.special").dtype, "F32")
    XCTAssertGreaterThan(entry("a.wide").begin, entry("c.special").begin)
    XCTAssertEqual((8 + length) % 8, 0)
    XCTAssertEqual(data.count, 8 + length + 2 * n + 4 * n + 4 * 3)
  }

  /// An F16 entry whose byte range is sized for F32 is refused as damaged, not read out of bounds.
  func testFloat16EntryOfTheWrongLength() throws {
    let url = dir.appendingPathComponent("half.safetensors")
    try Safetensors.write(["w": Tensor([1, 2, 3, 4], shape: [4])], to: url, storage: .float16)
    var data = try Data(contentsOf: url)
    let range = try XCTUnwrap(data.range(of: Data("\"F16\"".utf8)))
    data.replaceSubrange(range, with: Data("\"F32\"".utf8))
    let bad = dir.appendingPathComponent("damaged.safetensors")
    try data.write(to: bad)
    expectError(bad) { if case .corrupted = $0 { return true } else { return false } }
  }
}
