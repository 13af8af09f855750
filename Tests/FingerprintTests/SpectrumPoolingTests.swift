import Fingerprint
import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// Spectra averaged before the network: `SpectralInput.meanSpectra`, the `spectrum` window pooling and
/// training on inputs that average several tiles of a model (`ExtractorConfig.spectraPerInput`).
final class SpectrumPoolingTests: XCTestCase {
  /// The group means against a Float64 sum: each output is a sum of M Float32 values, then one product by
  /// 1/M, so its error is at most (M + 1)·u relative to the sum of the magnitudes.
  func testMeanSpectraMatchesAFloat64Mean() {
    var rng = RNG(seed: 11)
    for (size, groups, m) in [(4, 3, 1), (8, 2, 5), (6, 4, 16)] {
      var input = SpectralInput()
      input.size = size
      let per = 3 * size * size
      let raw = (0..<(groups * m * per)).map { _ in rng.uniform() * 8 - 2 }
      var out = [Float](repeating: .nan, count: groups * per)
      raw.withUnsafeBufferPointer { r in
        out.withUnsafeMutableBufferPointer {
          input.meanSpectra(r.baseAddress!, groups: groups, of: m, into: $0.baseAddress!)
        }
      }
      let u = Double(Float.ulpOfOne) / 2
      for g in 0..<groups {
        for j in 0..<per {
          let values = (0..<m).map { Double(raw[(g * m + $0) * per + j]) }
          let exact = values.reduce(0, +) / Double(m)
          let bound = Double(m + 1) * u * values.reduce(0) { $0 + abs($1) } / Double(m)
          XCTAssertEqual(Double(out[g * per + j]), exact, accuracy: bound, "size \(size), group \(g), value \(j)")
        }
      }
    }
  }

  func tiny(pooling: String) -> Extractor {
    var rng = RNG(seed: 4)
    var input = SpectralInput()
    input.size = 16
    input.mean = [1, 1.5, 2]
    input.std = [0.5, 0.7, 0.9]
    input.pooling = pooling
    return Extractor(
      network: ResNet(depth: 18, width: 2, classes: 3, projection: 4, rng: &rng), input: input,
      classes: ["a", "b", "c"])
  }

  /// An image's embedding under `spectrum` pooling is the network's embedding of the standardised mean of
  /// its windows' raw spectra, computed here step by step; under `embedding` it is the mean of the
  /// windows' embeddings. The two differ.
  func testSpectrumPoolingEmbedsTheWindowsMeanSpectrum() {
    var rng = RNG(seed: 6)
    let images = (0..<3).map { _ in Image(width: 40, height: 30, pixels: (0..<(3 * 40 * 30)).map { _ in rng.uniform() })
    }
    let ex = tiny(pooling: "spectrum")
    let got = ex.rawEmbeddings(images: images, grid: 3)
    let per = 3 * 16 * 16
    for (i, image) in images.enumerated() {
      let windows = ex.input.windows(image, grid: 3)
      let raw = Tensor(uninitialized: [9, 3, 16, 16])
      ex.input.rawSpectra(Image.batch(windows), into: raw.pointer)
      let mean = Tensor(uninitialized: [1, 3, 16, 16])
      for j in 0..<per { mean.pointer[j] = (0..<9).reduce(Float(0)) { $0 + raw.pointer[$1 * per + j] } / 9 }
      ex.input.standardise(mean.pointer, count: 1)
      let want = ex.embed(spectra: mean)[0]
      // The loop above sums in the same order as meanSpectra but divides instead of multiplying by 1/9:
      // inputs differ by an ulp, which the network may amplify a little.
      for (a, b) in zip(got[i], want) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "image \(i)") }
    }
    let byEmbedding = tiny(pooling: "embedding").rawEmbeddings(images: images, grid: 3)
    XCTAssertNotEqual(byEmbedding[0], got[0])
    // Any grouping of the same windows gives the same answer (the server embeds several images' windows at once).
    let windows = images.flatMap { ex.input.windows($0, grid: 3) }
    XCTAssertEqual(ex.imageEmbeddings(windows: windows, perImage: 9), got)
  }

  func testPoolingDecodesWithItsDefaultAndUnknownOnesAreProblems() throws {
    let old = try JSONDecoder().decode(SpectralInput.self, from: Data(#"{"size": 32}"#.utf8))
    XCTAssertEqual(old.pooling, "embedding")
    XCTAssertNil(old.problem)
    var bad = old
    bad.pooling = "median"
    XCTAssertTrue(bad.problem?.contains("median") ?? false, bad.problem ?? "nil")
    let spectrum = tiny(pooling: "spectrum").input
    XCTAssertEqual(try JSONDecoder().decode(SpectralInput.self, from: JSONEncoder().encode(spectrum)), spectrum)
  }

  /// Training with inputs of 2 tiles: the checkpoint pools by spectrum, survives a save and load, runs
  /// the same twice, and its settings are refused where they cannot work.
  func testTrainingOnAveragedSpectraIsDeterministicAndPoolsBySpectrum() throws {
    let (store, tiles, root) = try ExtractorTrainingTests.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = ExtractorTrainingTests.tinyConfig()
    config.spectraPerInput = 2
    var losses: [[Float]] = [[], []]
    var extractors: [Extractor] = []
    for run in 0..<2 {
      let (ex, _) = try ExtractorTrainer(config: config).train(set, onStep: { losses[run].append($0.loss) })
      extractors.append(ex)
    }
    XCTAssertEqual(losses[0].count, 6)
    XCTAssertEqual(losses[0], losses[1])
    XCTAssertTrue(losses[0].allSatisfy(\.isFinite))
    XCTAssertEqual(extractors[0].input.pooling, "spectrum")
    let url = root.appendingPathComponent("ex.safetensors")
    try extractors[0].save(to: url)
    XCTAssertEqual(try Extractor.load(from: url).input.pooling, "spectrum")
    let heldOut = ExtractorTrainer(config: config).split(set).heldOut
    // Zero-shot inputs overlap cyclically, so a model keeps as many inputs as tiles, as with M = 1.
    var single = config
    single.spectraPerInput = nil
    XCTAssertEqual(
      ExtractorTrainer(config: config).zeroShot(extractors[0], set, classes: heldOut).queries,
      ExtractorTrainer(config: single).zeroShot(extractors[0], set, classes: heldOut).queries)

    for (words, change) in [
      ("1...64", { (c: inout ExtractorConfig) in c.spectraPerInput = 0 }),
      ("exceed --tiles-per-model", { (c: inout ExtractorConfig) in c.spectraPerInput = 60 }),
      ("--virtual", { (c: inout ExtractorConfig) in c.virtualGenerators = 2 }),
    ] {
      var c = config
      change(&c)
      XCTAssertTrue(c.problem?.contains(words) ?? false, "\(words): \(c.problem ?? "nil")")
    }
    // A set with fewer tiles per model than K · M cannot make a batch.
    config.spectraPerInput = 3
    XCTAssertThrowsError(try ExtractorTrainer(config: config).train(set)) { error in
      XCTAssertTrue("\(error)".contains("inputs of 3 tiles"), "\(error)")
    }
  }
}
