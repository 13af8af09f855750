import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// `train --images DIR --tile-size N`: a pool synthesized on small tiles fingerprints larger ones, and the
/// extractor takes windows of the new size.
final class TrainTileSizeTests: XCTestCase {
  let dir = try! Scratch()

  func testAPoolOf16PxModelsTrainsA32PxExtractor() throws {
    let synth = try Fixtures.synthesizeTinyPool(in: dir, archs: ["000000", "010110", "100200", "111032", "001231"])
    XCTAssertEqual(synth.status, 0, synth.output)
    try dir.write("config.json", Array(#"{"projection": 8, "validationTilesPerModel": 3, "heldOut": ["001231"]}"#.utf8))
    let out = dir.path("ex.safetensors")
    let train = try CLI.run([
      "train", "--pool", dir.path("pool"), "--images", dir.path("photos"), "--tile-size", "32", "--config",
      dir.path("config.json"), "--steps", "2", "--P", "4", "--K", "2", "--width", "4", "--tiles-per-model", "3",
      "--threads", "1", "--out", out,
    ])
    XCTAssertEqual(train.status, 0, train.output)
    XCTAssertTrue(train.output.contains("tiles of 32 px"), train.output)
    let meta = try Safetensors.read(URL(fileURLWithPath: out)).metadata
    let input = try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(meta["input"]).utf8)) as? [String: Any]
    XCTAssertEqual(input?["size"] as? Int, 32, "the extractor's windows are the new tiles' size")

    // The new windows are what `embed` cuts: a 40 px image gives 4 × 4 windows of 32 px.
    var rng = RNG(seed: 9)
    try dir.write(
      "query/a.png",
      Array(try ImageEncoder.png(Image(width: 40, height: 40, pixels: (0..<(3 * 40 * 40)).map { _ in rng.uniform() }))))
    let embed = try CLI.run(["embed", "--extractor", out, dir.path("query/a.png"), "--threads", "1"])
    XCTAssertEqual(embed.status, 0, embed.output)
  }
}
