import Fingerprint
import Foundation
import Imaging
import NN
import Spectral
import Tensor
import XCTest

/// The `denoiser` residual: an extractor trained on a learned denoiser's predicted noise carries the
/// denoiser in its checkpoint, embeds with it after loading, and refuses a checkpoint that lacks it.
final class DenoiserResidualTests: XCTestCase {
  func tinyDenoiser(seed: UInt64 = 5) -> LearnedDenoiser {
    var rng = RNG(seed: seed)
    return LearnedDenoiser(network: DnCNN(depth: 3, width: 4, rng: &rng))
  }

  func randomImage(_ size: Int, seed: UInt64) -> Image {
    var rng = RNG(seed: seed)
    return Image(width: size, height: size, pixels: (0..<(3 * size * size)).map { _ in rng.uniform() })
  }

  func extractor(denoiser: LearnedDenoiser?) -> Extractor {
    var rng = RNG(seed: 9)
    let net = ResNet(depth: 18, width: 4, classes: 3, projection: 8, rng: &rng)
    net.eval()
    var input = SpectralInput()
    input.size = 16
    if let denoiser {
      input.residual = "denoiser"
      input.denoiser = denoiser
    }
    return Extractor(network: net, input: input, classes: ["a", "b", "c"])
  }

  func testCheckpointCarriesItsDenoiser() throws {
    let folder = try temporaryFolder("denoiser-residual")
    let url = folder.appendingPathComponent("ex.safetensors")
    let ex = extractor(denoiser: tinyDenoiser())
    try ex.save(to: url)
    let back = try Extractor.load(from: url)
    XCTAssertEqual(back.input.residual, "denoiser")
    XCTAssertEqual(back.input.denoiser?.architecture, "dncnn-3-4")
    let images = [randomImage(32, seed: 1), randomImage(40, seed: 2)]
    XCTAssertEqual(back.embed(images: images, grid: 2), ex.embed(images: images, grid: 2))
    // The residual is the denoiser's, not the high-pass one: the same network embeds differently.
    XCTAssertNotEqual(extractor(denoiser: nil).embed(images: images, grid: 2), ex.embed(images: images, grid: 2))
  }

  func testCheckpointWithoutItsDenoiserIsRefused() throws {
    let folder = try temporaryFolder("denoiser-residual")
    let url = folder.appendingPathComponent("ex.safetensors")
    try extractor(denoiser: tinyDenoiser()).save(to: url)
    var file = try Safetensors.read(url)
    for key in file.tensors.keys where key.hasPrefix("denoiser.") { file.tensors[key] = nil }
    file.metadata["denoiser_architecture"] = nil
    XCTAssertThrowsError(try Extractor.load(file, name: "stripped")) {
      XCTAssert("\($0)".contains("residual 'denoiser' needs the denoiser's weights"), "\($0)")
    }
    file = try Safetensors.read(url)
    file.metadata["denoiser_architecture"] = "dncnn-100000-100000"
    XCTAssertThrowsError(try Extractor.load(file, name: "huge")) {
      XCTAssert("\($0)".contains("its denoiser"), "\($0)")
    }
    file = try Safetensors.read(url)
    file.metadata["denoiser_architecture"] = "dncnn-64-512"
    XCTAssertThrowsError(try Extractor.load(file, name: "too few")) { XCTAssert("\($0)".contains("too few"), "\($0)") }
    file = try Safetensors.read(url)
    file.tensors["denoiser.0.weight"] = Tensor.zeros([4, 3, 5, 5])
    XCTAssertThrowsError(try Extractor.load(file, name: "wrong shape")) {
      XCTAssert("\($0)".contains("its denoiser"), "\($0)")
    }
  }

  func testTrainingUsesAndRecordsTheDenoiser() throws {
    let (store, tiles, root) = try ExtractorTrainingTests.tinyPool()
    defer { try? FileManager.default.removeItem(at: root) }
    let set = try FingerprintedSet(store: store, tiles: tiles, perModel: 6, seed: 0)
    var config = ExtractorTrainingTests.tinyConfig()
    config.steps = 2
    config.denoiser = "tiny.safetensors"
    let denoiser = tinyDenoiser()
    let (ex, _) = try ExtractorTrainer(config: config, denoiser: denoiser).train(set)
    XCTAssertEqual(ex.input.residual, "denoiser")
    XCTAssertTrue(ex.input.denoiser === denoiser)
    XCTAssertNil(ex.input.problem)
    XCTAssertThrowsError(try ExtractorTrainer(config: config).train(set)) {
      XCTAssert("\($0)".contains("none was loaded"), "\($0)")
    }
  }
}
