import Foundation
import Imaging
import Tensor
import XCTest

/// `train-denoiser`: the held-out report over noise levels, and `--evaluate`, which reports on an existing
/// denoiser with the very tiles a training with the same settings holds out.
final class TrainDenoiserCommandTests: XCTestCase {
  let dir = try! Scratch()

  func testEvaluateReproducesTheTrainingReportOnTheSameTiles() throws {
    var rng = RNG(seed: 4)
    for k in 0..<3 {
      let photo = Image(width: 40, height: 40, pixels: (0..<(3 * 40 * 40)).map { _ in rng.uniform() })
      try dir.write("photos/\(k).png", Array(try ImageEncoder.png(photo)))
    }
    let settings = ["--images", dir.path("photos"), "--depth", "3", "--width", "4", "--tile", "16", "--batch", "2"]
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
    var rng = RNG(seed: 5)
    for k in 0..<2 {
      let photo = Image(width: 40, height: 40, pixels: (0..<(3 * 40 * 40)).map { _ in rng.uniform() })
      try dir.write("photos-loss/\(k).png", Array(try ImageEncoder.png(photo)))
    }
    let settings = [
      "--images", dir.path("photos-loss"), "--depth", "3", "--width", "4", "--tile", "16", "--batch", "2",
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
