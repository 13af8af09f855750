import Foundation
import Imaging
import NN
import Tensor
import XCTest

@testable import Spectral

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
    // The held-out tiles are the settings' own, so a denoiser trained elsewhere is compared on the same ones.
    let drawn = try DenoiserTrainer(config: config).tiles(from: photos)
    XCTAssertEqual(drawn.validation.map(\.pixels), validation.map(\.pixels))
    XCTAssertEqual(drawn.training.count, 8)
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
      ({ $0.jpegProbability = 1.5 }, "jpeg-prob"), ({ $0.jpegQualityMax = 101 }, "jpeg-quality"),
      (
        {
          $0.loss = .levelNormalized
          $0.sigmaMin = 0
        }, "sigma-min"
      ),
      (
        {
          $0.jpegQualityMin = 90
          $0.jpegQualityMax = 80
        }, "jpeg-quality"
      ),
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

  /// The JPEG pairs against their definition: with every tile drawn for JPEG at one quality, the input is
  /// JPEG(clean + noise) and the target that minus JPEG(clean), both through the codec directly; without
  /// JPEG the pair is the noisy tile and its noise.
  func testJPEGTrainingPairsAreTheNoiseThatSurvivesTheCodec() throws {
    // Smooth ramps, as photo tiles mostly are, so that the codec keeps the content and drops the noise.
    let tiles = (0..<2).map { k in
      Image(width: 16, height: 16, pixels: (0..<(3 * 16 * 16)).map { 0.3 + Float(($0 + 7 * k) % 16) / 40 })
    }
    var config = DenoiserTrainingConfig()
    config.sigmaMin = 4
    config.sigmaMax = 4
    var plainRNG = RNG(seed: 9)
    let (plainInput, noise, _) = try DenoiserTrainer(config: config).trainingPair(tiles, rng: &plainRNG)
    // (x + n) − n is x up to one rounding of a sum below 2: half an ulp of 2 is 1.2e-7.
    let recovered = zip((plainInput - noise).array, Image.batch(tiles).array).map { abs($0 - $1) }.max() ?? 1
    XCTAssertLessThanOrEqual(recovered, 2.4e-7)
    config.jpegProbability = 1
    config.jpegQualityMin = 75
    config.jpegQualityMax = 75
    var jpegRNG = RNG(seed: 9)
    let (input, target, _) = try DenoiserTrainer(config: config).trainingPair(tiles, rng: &jpegRNG)
    for n in tiles.indices {
      let noisy = Image(plainInput, index: n)
      let compressed = try noisy.jpegRecompressed(quality: 75)
      let reference = try tiles[n].jpegRecompressed(quality: 75)
      XCTAssertEqual(Image(input, index: n).pixels, compressed.pixels)
      XCTAssertEqual(Image(target, index: n).pixels, zip(compressed.pixels, reference.pixels).map { $0 - $1 })
      // The codec removes part of the noise: the surviving target is weaker than the noise added.
      let added = Image(noise, index: n).pixels.reduce(0) { $0 + $1 * $1 }
      let survived = Image(target, index: n).pixels.reduce(0) { $0 + $1 * $1 }
      XCTAssertLessThan(survived, added)
    }
  }

  /// Settings saved before the JPEG options existed read with those options at their defaults, and the
  /// current settings round-trip.
  func testSettingsWithoutTheJPEGKeysReadAsTheGaussianDenoiser() throws {
    let old =
      #"{"batch":16,"depth":10,"learningRate":0.001,"seed":0,"sigmaMax":25,"sigmaMin":1,"steps":5000,"#
      + #""tile":64,"trainTiles":4000,"validationTiles":256,"width":32}"#
    let read = try JSONDecoder().decode(DenoiserTrainingConfig.self, from: Data(old.utf8))
    var expected = DenoiserTrainingConfig()
    expected.depth = 10
    expected.width = 32
    expected.steps = 5000
    XCTAssertEqual(read, expected)
    XCTAssertEqual(read.jpegProbability, 0)
    XCTAssertEqual(read.loss, .mse)
    var current = expected
    current.jpegProbability = 0.5
    current.jpegQualityMin = 70
    current.loss = .levelNormalized
    let again = try JSONDecoder().decode(DenoiserTrainingConfig.self, from: JSONEncoder().encode(current))
    XCTAssertEqual(again, current)
  }

  /// The level-normalized loss is Σₙ wₙ·‖pₙ − tₙ‖² / (N·D) with wₙ ∝ 1/σₙ² averaging 1: checked in Float64
  /// against the definition, with its gradient, which must equal 2·wₙ·(pₙ − tₙ)/(N·D).
  func testLevelNormalizedLossWeighsEachTileByItsInverseNoiseVariance() throws {
    var config = DenoiserTrainingConfig()
    config.loss = .levelNormalized
    let sigmas: [Float] = [1 / 255, 4 / 255, 10 / 255]
    let weights = try XCTUnwrap(DenoiserTrainer(config: config).lossWeights(sigmas: sigmas))
    let inverse = sigmas.map { 1 / (Double($0) * Double($0)) }
    let mean = inverse.reduce(0, +) / 3
    for (w, v) in zip(weights, inverse) { XCTAssertEqual(Double(w), v / mean, accuracy: 1e-5 * v / mean) }
    XCTAssertNil(DenoiserTrainer(config: DenoiserTrainingConfig()).lossWeights(sigmas: sigmas))

    var rng = RNG(seed: 9)
    let shape: Shape = [3, 2, 4, 5]
    let prediction = Tensor.normal(shape, std: 0.1, rng: &rng)
    prediction.requiresGrad = true
    let target = Tensor.normal(shape, std: 0.1, rng: &rng)
    let loss = DenoiserTrainer.loss(prediction, target, weights: weights)
    loss.backward()
    let per = shape.count / 3
    var expected = 0.0
    for n in 0..<3 {
      for i in 0..<per {
        let d = Double(prediction.pointer[n * per + i]) - Double(target.pointer[n * per + i])
        expected += Double(weights[n]) * d * d
        let g = 2 * Double(weights[n]) * d / Double(shape.count)
        // Float32 products of values near 0.1 and weights up to 3: a few ulps of the gradient's size.
        XCTAssertEqual(
          Double(try XCTUnwrap(prediction.grad).pointer[n * per + i]), g, accuracy: 1e-6 * max(abs(g), 1e-3))
      }
    }
    expected /= Double(shape.count)
    // A sum of 120 Float32 terms: relative error bounded by about 120 ulps.
    XCTAssertEqual(Double(loss.item), expected, accuracy: 120 * 1.2e-7 * expected)
    XCTAssertEqual(DenoiserTrainer.loss(prediction, target, weights: nil).item, mseLoss(prediction, target).item)
  }
}
