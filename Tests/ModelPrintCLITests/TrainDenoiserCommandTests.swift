import Foundation
import Imaging
import Tensor
import XCTest

/// `train-denoiser`: the held-out report over noise levels, and `--evaluate`, which reports on an existing
/// denoiser with the very tiles a training with the same settings holds out.
final class TrainDenoiserCommandTests: XCTestCase {
  let dir = try! Scratch()

  /// `count` 40 × 40 PNGs of uniform noise in the scratch folder `folder`; returns its path.
  func randomPhotos(_ folder: String, count: Int, seed: UInt64) throws -> String {
    var rng = RNG(seed: seed)
    for k in 0..<count {
      let photo = Image(width: 40, height: 40, pixels: (0..<(3 * 40 * 40)).map { _ in rng.uniform() })
      try dir.write("\(folder)/\(k).png", Array(try ImageEncoder.png(photo)))
    }
    return dir.path(folder)
  }

  func testEvaluateReproducesTheTrainingReportOnTheSameTiles() throws {
    let settings = [
      "--images", try randomPhotos("photos", count: 3, seed: 4), "--depth", "3", "--width", "4", "--tile", "16",
      "--batch", "2",
    ]
    let out = dir.path("dn.safetensors")
    let train = try CLI.run(["train-denoiser"] + settings + ["--out", out, "--steps", "2", "--threads", "1"])
    XCTAssertEqual(train.status, 0, train.output)
    let eval = try Data(contentsOf: dir.url.appendingPathComponent("dn.eval.json"))
    let report = try JSONSerialization.jsonObject(with: eval)
    let sigmas = (report as? [[String: Any]])?.compactMap { $0["sigma"] as? Double }
    XCTAssertEqual(sigmas, [2, 5, 10, 25])
    let trained = train.output.split(separator: "\n").filter { $0.hasPrefix("held-out") }
    XCTAssertEqual(trained.count, 4, train.output)

    // --evaluate writes nothing, so it needs no --out.
    let evaluate = try CLI.run(["train-denoiser"] + settings + ["--evaluate", out, "--threads", "1"])
    XCTAssertEqual(evaluate.status, 0, evaluate.output)
    XCTAssertEqual(evaluate.output.split(separator: "\n").filter { $0.hasPrefix("held-out") }, trained)

    let missing = dir.path("none.safetensors")
    let refused = try CLI.run(["train-denoiser"] + settings + ["--evaluate", missing])
    XCTAssertEqual(refused.status, 1, refused.output)
    XCTAssertTrue(refused.output.contains(missing), refused.output)
  }

  func testLevelNormalizedLossTrainsAndIsSavedInTheSettings() throws {
    let settings = [
      "--images", try randomPhotos("photos-loss", count: 2, seed: 5), "--depth", "3", "--width", "4", "--tile", "16",
      "--batch", "2",
    ]
    let out = dir.path("dn-level.safetensors")
    let train = try CLI.run(
      ["train-denoiser"] + settings + ["--out", out, "--steps", "2", "--loss", "level-normalized", "--threads", "1"])
    XCTAssertEqual(train.status, 0, train.output)
    let saved = try Data(contentsOf: dir.url.appendingPathComponent("dn-level.config.json"))
    XCTAssertEqual(
      (try JSONSerialization.jsonObject(with: saved) as? [String: Any])?["loss"] as? String, "level-normalized")
    let zero = try CLI.run(
      ["train-denoiser"] + settings + ["--out", out, "--loss", "level-normalized", "--sigma-min", "0"])
    XCTAssertEqual(zero.status, 64, zero.output)
    XCTAssertTrue(zero.output.contains("sigma-min"), zero.output)
    let unknown = try CLI.run(["train-denoiser"] + settings + ["--out", out, "--loss", "l1"])
    XCTAssertEqual(unknown.status, 64, unknown.output)
  }
}
