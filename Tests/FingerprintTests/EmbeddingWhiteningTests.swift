import Fingerprint
import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// The WCCN whitening: what it does to the covariance it is fitted on, how it travels in a checkpoint,
/// and how a damaged one is refused.
final class EmbeddingWhiteningTests: XCTestCase {
  /// Clustered, all-positive embeddings with anisotropic within-model noise, like post-ReLU features.
  func clustered(models: Int, perModel: Int, width d: Int, seed: UInt64) -> ([[Float]], [Int]) {
    var rng = RNG(seed: seed)
    let scales = (0..<d).map { _ in 0.05 + 2 * rng.uniform() }
    var out: [[Float]] = []
    var labels: [Int] = []
    for m in 0..<models {
      let centre = (0..<d).map { _ in 5 + rng.uniform() }
      for _ in 0..<perModel {
        out.append((0..<d).map { centre[$0] + Float(scales[$0]) * 0.05 * rng.normal() })
        labels.append(m)
      }
    }
    return (out, labels)
  }

  /// With a negligible ridge, the transformed within-model covariance of the fitting set is the
  /// identity: A = V Λ^(−1/2) makes Aᵀ W A = Λ/(Λ + ridge) ≈ I. The tolerance allows Float32 storage of
  /// A (relative 1e-7 per entry, amplified by the condition number of W, here below 1e3) and the ridge.
  func testTransformedWithinModelCovarianceIsTheIdentity() throws {
    let (e, labels) = clustered(models: 12, perModel: 40, width: 6, seed: 1)
    let w = try EmbeddingWhitening.fit(e, labels: labels, shrinkage: 1e-7)
    let t = e.map { w($0).map(Double.init) }
    let d = 6
    var cov = [Double](repeating: 0, count: d * d)
    for m in 0..<12 {
      let idx = labels.indices.filter { labels[$0] == m }
      let mean = (0..<d).map { j in idx.reduce(0) { $0 + t[$1][j] } / Double(idx.count) }
      for i in idx { for a in 0..<d { for b in 0..<d { cov[a * d + b] += (t[i][a] - mean[a]) * (t[i][b] - mean[b]) } } }
    }
    for a in 0..<d {
      for b in 0..<d {
        XCTAssertEqual(cov[a * d + b] / Double(e.count), a == b ? 1 : 0, accuracy: 1e-3, "entry \(a), \(b)")
      }
    }
    // Centred: the fitting set's mean maps to zero.
    for j in 0..<d { XCTAssertEqual(t.reduce(0) { $0 + $1[j] } / Double(t.count), 0, accuracy: 1e-3) }
  }

  /// Cosines of whitened embeddings separate models that raw cosines, all near 1, hardly do.
  func testWhiteningSpreadsCosinesOfPositiveFeatures() throws {
    let (e, labels) = clustered(models: 8, perModel: 20, width: 16, seed: 2)
    let w = try EmbeddingWhitening.fit(e, labels: labels)
    func cos(_ a: [Float], _ b: [Float]) -> Float {
      zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        / (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }
    let raw = cos(e[0], e[20])
    let white = cos(w(e[0]), w(e[20]))
    XCTAssertGreaterThan(raw, 0.95)
    XCTAssertLessThan(white, 0.5)
    XCTAssertGreaterThan(cos(w(e[0]), w(e[1])), white)
  }

  func testTooFewModelsIsATypedError() {
    XCTAssertThrowsError(try EmbeddingWhitening.fit([[1, 2], [2, 1], [3, 3]], labels: [0, 0, 1])) {
      XCTAssertEqual($0 as? WhiteningError, .tooFew(models: 1, images: 2))
    }
    XCTAssertThrowsError(try EmbeddingWhitening(mean: [0, 0], matrix: [1, 0, 0])) {
      guard case .badShape = $0 as? WhiteningError else { return XCTFail("\($0)") }
    }
  }

  func tinyExtractor() -> Extractor {
    var rng = RNG(seed: 3)
    var input = SpectralInput()
    input.size = 16
    return Extractor(
      network: ResNet(depth: 18, width: 2, classes: 3, projection: 4, rng: &rng), input: input,
      classes: ["a", "b", "c"])
  }

  func testCheckpointCarriesTheWhiteningAndEmbeddingsApplyIt() throws {
    let ex = tinyExtractor()
    var rng = RNG(seed: 4)
    let images = (0..<4).map { _ in Image(width: 20, height: 20, pixels: (0..<(3 * 20 * 20)).map { _ in rng.uniform() })
    }
    let raw = ex.embed(images: images, grid: 2)
    let labels = [0, 0, 1, 1]
    let w = try EmbeddingWhitening.fit(raw + raw.map { $0.map { $0 * 1.01 + 0.01 } }, labels: labels + [2, 2, 3, 3])
    let dir = try temporaryFolder("whitening")
    let url = dir.appendingPathComponent("x.safetensors")
    try ex.with(whitening: w, source: "{\"test\":1}").save(to: url)
    let loaded = try Extractor.load(from: url)
    XCTAssertEqual(loaded.whitening, w)
    XCTAssertEqual(loaded.whiteningSource, "{\"test\":1}")
    XCTAssertEqual(loaded.rawEmbeddings(images: images, grid: 2), raw)
    XCTAssertEqual(loaded.embed(images: images, grid: 2), raw.map { w($0) })

    // A damaged whitening, or a transform this build does not know, is refused naming the file.
    var file = try Safetensors.read(url)
    file.tensors["whitening.matrix"] = Tensor([1, 2, 3], shape: [3])
    try Safetensors.write(file.tensors, metadata: file.metadata, to: url)
    XCTAssertThrowsError(try Extractor.load(from: url)) { XCTAssert("\($0)".contains("whitening.matrix"), "\($0)") }
    file.metadata["embedding_transform"] = "pca-v9"
    try Safetensors.write(file.tensors, metadata: file.metadata, to: url)
    XCTAssertThrowsError(try Extractor.load(from: url)) { XCTAssert("\($0)".contains("pca-v9"), "\($0)") }
  }
}
