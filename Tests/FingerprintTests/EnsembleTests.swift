import Fingerprint
import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// Ensembles of extractors: one checkpoint whose embedding is its members' side by side.
final class EnsembleTests: XCTestCase {
  func tiny(seed: UInt64, width: Int = 2, size: Int = 16) -> Extractor {
    var rng = RNG(seed: seed)
    var input = SpectralInput()
    input.size = size
    return Extractor(
      network: ResNet(depth: 18, width: width, classes: 3, projection: 4, rng: &rng), input: input,
      classes: ["a", "b", "c"])
  }

  func images(_ count: Int, seed: UInt64 = 5) -> [Image] {
    var rng = RNG(seed: seed)
    return (0..<count).map { _ in Image(width: 20, height: 20, pixels: (0..<(3 * 20 * 20)).map { _ in rng.uniform() }) }
  }

  /// A whitening of `ex`'s raw embeddings, fitted on two perturbed copies so that it is not the identity.
  func whitened(_ ex: Extractor, _ pictures: [Image]) throws -> Extractor {
    let raw = ex.rawEmbeddings(images: pictures, grid: 2)
    let labels = pictures.indices.map { $0 / 2 }
    let w = try EmbeddingWhitening.fit(
      raw + raw.map { $0.map { $0 * 1.02 - 0.01 } }, labels: labels + labels.map { $0 + pictures.count })
    return ex.with(whitening: w, source: nil)
  }

  func testEmbeddingsAreTheMembersSideBySideEachWhitenedByItsOwn() throws {
    let pictures = images(4)
    let a = try whitened(tiny(seed: 1), pictures)
    let b = tiny(seed: 2, width: 4)  // no whitening, another width
    let c = try whitened(tiny(seed: 3), pictures)
    let ensemble = try Extractor.ensemble([a, b, c])
    XCTAssertEqual(ensemble.parts.count, 3)
    XCTAssertEqual(ensemble.embeddingWidth, 2 * 8 + 4 * 8 + 2 * 8)
    let each = [a, b, c].map { $0.embed(images: pictures, grid: 2) }
    // The same windows through the same networks in the same batches: equal to the last bit.
    XCTAssertEqual(ensemble.embed(images: pictures, grid: 2), pictures.indices.map { i in each.flatMap { $0[i] } })
    let raw = [a, b, c].map { $0.rawEmbeddings(images: pictures, grid: 2) }
    XCTAssertEqual(
      ensemble.rawEmbeddings(images: pictures, grid: 2), pictures.indices.map { i in raw.flatMap { $0[i] } })
  }

  func testCheckpointRoundTripsAndDamageIsATypedError() throws {
    let pictures = images(4)
    let ensemble = try Extractor.ensemble([try whitened(tiny(seed: 1), pictures), tiny(seed: 2)])
    let dir = try temporaryFolder("ensemble")
    let url = dir.appendingPathComponent("e.safetensors")
    try ensemble.save(to: url, extra: ["note": "kept"])
    let loaded = try Extractor.load(from: url)
    XCTAssertEqual(loaded.members.count, 1)
    XCTAssertEqual(loaded.embed(images: pictures, grid: 2), ensemble.embed(images: pictures, grid: 2))
    XCTAssertEqual(try Safetensors.read(url).metadata["note"], "kept")

    let file = try Safetensors.read(url)
    func refused(_ change: (inout Safetensors.File) -> Void, saying fragment: String) throws {
      var damaged = file
      change(&damaged)
      try Safetensors.write(damaged.tensors, metadata: damaged.metadata, to: url)
      XCTAssertThrowsError(try Extractor.load(from: url)) {
        guard case SafetensorsError.badCheckpoint(let path, "extractor", let reason) = $0 else {
          return XCTFail("not a bad checkpoint: \($0)")
        }
        XCTAssertEqual(path, url.path)
        XCTAssert(reason.contains(fragment), "\(reason) lacks '\(fragment)'")
      }
    }
    try refused({ $0.metadata["ensemble_members"] = "9" }, saying: "member count '9'")
    try refused({ $0.metadata["ensemble_members"] = "two" }, saying: "member count 'two'")
    try refused({ $0.metadata["ensemble_members"] = "2" }, saying: "member 2 has no metadata")
    try refused({ $0.metadata["member.1.metadata"] = "[1, 2]" }, saying: "member 1 has no metadata")
    try refused({ $0.tensors["member.1.stem.0.weight"] = nil }, saying: "member 1")
    try refused({ $0.tensors["member.3.stem.0.weight"] = Tensor([1], shape: [1]) }, saying: "beyond its 1")
    try refused(
      { f in
        var meta = try! JSONDecoder().decode([String: String].self, from: Data(f.metadata["member.1.metadata"]!.utf8))
        meta["ensemble_members"] = "1"
        f.metadata["member.1.metadata"] = String(decoding: try! JSONEncoder().encode(meta), as: UTF8.self)
      }, saying: "is an ensemble itself")
  }

  /// An ensemble stored as Float16 is half the size, and its networks' embeddings are those of the Float32
  /// one up to the weights' rounding. Error model: each stored value is off by at most 2⁻¹¹ of itself; over
  /// the ResNet-18's 21 weighted layers such independent errors add in quadrature to a relative error of
  /// about √21 · 2⁻¹¹ / √3 ≈ 1.3 · 10⁻³ in an embedding, a cosine within 10⁻⁶ of 1; the bound, 10⁻⁴,
  /// allows ten times that error. (A whitening multiplies the error by its condition number, which depends
  /// on the set it was fitted on, so the networks are compared unwhitened; the whitening's own tensors are
  /// stored within the storage's bound, `SafetensorsTests`.)
  func testFloat16CheckpointIsHalfTheSizeAndEmbedsAlike() throws {
    let pictures = images(4)
    let ensemble = try Extractor.ensemble([tiny(seed: 1, width: 4), tiny(seed: 2, width: 4)])
    let dir = try temporaryFolder("ensemble16")
    let full = dir.appendingPathComponent("e32.safetensors")
    let half = dir.appendingPathComponent("e16.safetensors")
    try ensemble.save(to: full)
    try ensemble.save(to: half, storage: .float16)
    func size(_ url: URL) throws -> Int { try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int }
    XCTAssertLessThan(Double(try size(half)), 0.6 * Double(try size(full)))
    let a = try Extractor.load(from: full).embed(images: pictures, grid: 2)
    let b = try Extractor.load(from: half).embed(images: pictures, grid: 2)
    for (x, y) in zip(a, b) {
      let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let nx = x.reduce(0.0) { $0 + Double($1) * Double($1) }
      let ny = y.reduce(0.0) { $0 + Double($1) * Double($1) }
      XCTAssertGreaterThan(dot / (nx * ny).squareRoot(), 1 - 1e-4)
    }
  }

  /// Members of different window sizes: each embeds the same grid of its own windows, the parts side by
  /// side; the windows the server cuts itself (``Extractor/windows(_:grid:)``) give the same embeddings,
  /// and the checkpoint round-trips.
  func testMembersOfDifferentWindowSizes() throws {
    let pictures = images(3)
    let small = tiny(seed: 1)
    let large = tiny(seed: 2, size: 32)
    let other = tiny(seed: 3)
    let ensemble = try Extractor.ensemble([small, large, other])
    XCTAssertEqual(ensemble.inputs.map(\.size), [16, 32])
    XCTAssertEqual(ensemble.windowCount(grid: 2), 8)
    let cut = ensemble.windows(pictures[0], grid: 2)
    XCTAssertEqual(cut.map(\.width), [16, 16, 16, 16, 32, 32, 32, 32])
    let each = [small, large, other].map { $0.embed(images: pictures, grid: 2) }
    let joined = ensemble.embed(images: pictures, grid: 2)
    XCTAssertEqual(joined, pictures.indices.map { i in each.flatMap { $0[i] } })
    let windows = pictures.flatMap { ensemble.windows($0, grid: 2) }
    XCTAssertEqual(
      ensemble.imageEmbeddings(windows: windows, perImage: ensemble.windowCount(grid: 2)).map(ensemble.finished),
      joined)
    let dir = try temporaryFolder("ensemble-mixed")
    let url = dir.appendingPathComponent("e.safetensors")
    try ensemble.save(to: url)
    let loaded = try Extractor.load(from: url)
    XCTAssertEqual(loaded.inputs.map(\.size), [16, 32])
    XCTAssertEqual(loaded.embed(images: pictures, grid: 2), joined)
  }

  func testOnlySingleNetworksJoin() throws {
    let a = tiny(seed: 1)
    let b = tiny(seed: 2)
    XCTAssertThrowsError(try Extractor.ensemble([a])) { XCTAssertEqual($0 as? EnsembleError, .count(1)) }
    XCTAssertThrowsError(try Extractor.ensemble(Array(repeating: a, count: Extractor.maxEnsemble + 1))) {
      XCTAssertEqual($0 as? EnsembleError, .count(Extractor.maxEnsemble + 1))
    }
    let pair = try Extractor.ensemble([a, b])
    XCTAssertThrowsError(try Extractor.ensemble([b, pair])) {
      XCTAssertEqual($0 as? EnsembleError, .nested(member: 1))
      XCTAssert("\($0)".contains("extractor 2 is an ensemble"), "\($0)")
    }
  }
}
