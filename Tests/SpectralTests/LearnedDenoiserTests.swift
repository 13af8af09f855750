import Foundation
import Imaging
import NN
import Spectral
import Tensor
import XCTest

final class LearnedDenoiserTests: XCTestCase {
  func testTrainingRunsAndWeightsRoundTripWithTheirArchitecture() throws {
    var rng = RNG(seed: 2)
    let photos = (0..<2).map { _ in
      Image(width: 40, height: 40, pixels: (0..<(3 * 40 * 40)).map { _ in rng.uniform() })
    }
    var config = DenoiserTrainingConfig()
    config.depth = 3
    config.width = 8
    config.tile = 16
    config.batch = 2
    config.steps = 3
    config.trainTiles = 8
    config.validationTiles = 4
    var losses: [Float] = []
    let (denoiser, validation) = try DenoiserTrainer(config: config).train(photos: photos) { losses.append($1) }
    XCTAssertEqual(losses.count, 3)
    XCTAssert(losses.allSatisfy(\.isFinite))
    XCTAssertEqual(validation.count, 4)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("denoiser-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try denoiser.save(to: url, config: config)
    let loaded = try LearnedDenoiser.load(from: url)
    XCTAssertEqual(loaded.network.depth, 3)
    XCTAssertEqual(loaded.network.width, 8)
    let x = Image.batch(validation)
    XCTAssertEqual(loaded.residual(x).array, denoiser.residual(x).array)
    let eval = DenoiserTrainer.evaluate(loaded, tiles: validation)
    XCTAssert(eval.noisyPSNR.isFinite && eval.denoisedPSNR.isFinite)
  }

  func testUnusableSettingsAndFlatPhotosAreTypedErrors() throws {
    var config = DenoiserTrainingConfig()
    config.tile = 16
    config.steps = 1
    config.batch = 1
    for (change, word) in [
      ({ (c: inout DenoiserTrainingConfig) in c.depth = 2 }, "depth"), ({ $0.steps = 0 }, "steps"),
      ({ $0.batch = 0 }, "batch"), ({ $0.tile = 0 }, "tile"), ({ $0.sigmaMax = 0.5 }, "sigma-max"),
    ] {
      var c = config
      change(&c)
      XCTAssertThrowsError(try DenoiserTrainer(config: c).train(photos: [])) { error in
        guard case .invalidConfig(let problem) = error as? DenoiserTrainingError else { return XCTFail("\(error)") }
        XCTAssertTrue(problem.contains(word), problem)
      }
    }
    let flat = Image(width: 40, height: 40, pixels: [Float](repeating: 0.5, count: 3 * 40 * 40))
    // Luma std 1/255 stays under the sampler's 8/255 texture floor.
    let faint = Image(width: 20, height: 20, pixels: (0..<(3 * 400)).map { 0.2 + Float($0 % 2) / 255 })
    XCTAssertThrowsError(try DenoiserTrainer(config: config).train(photos: [flat, faint])) { error in
      XCTAssertEqual(error as? DenoiserTrainingError, .noTexturedTiles(photos: 2, tile: 16))
    }
  }

  func testAnotherCheckpointIsRefusedWithTheFileName() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("other-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    var rng = RNG(seed: 1)
    try Linear(2, 2, rng: &rng).save(to: url)
    XCTAssertThrowsError(try LearnedDenoiser.load(from: url)) { XCTAssert("\($0)".contains(url.path)) }
  }
}
