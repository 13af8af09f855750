import Fingerprint
import Foundation
import Imaging
import NN
import Tensor

/// Tiny inputs for the command line: an untrained extractor small enough to embed in milliseconds and
/// folders of small generated images. Nothing here is a trained result; the tests check what the
/// commands do with files, not how well they attribute.
enum Fixtures {
  /// An untrained ResNet-18 of width 4 on 16-pixel patches, saved as a real extractor checkpoint (the
  /// format `modelprint train` writes), seeded so every run writes the same file.
  static func writeExtractor(to url: URL, classes: Int = 3) throws {
    var rng = RNG(seed: 7)
    let network = ResNet(depth: 18, width: 4, classes: classes, projection: 8, rng: &rng)
    var input = SpectralInput()
    input.size = 16
    let extractor = Extractor(network: network, input: input, classes: (0..<classes).map { "class\($0)" })
    try extractor.save(to: url)
  }

  /// A `side`×`side` PNG: seeded noise around a per-model tint, so that models differ and images of one
  /// model differ from each other.
  static func png(side: Int = 24, tint: Int, seed: UInt64) throws -> [UInt8] {
    var rng = RNG(seed: seed)
    let plane = side * side
    var pixels = [Float](repeating: 0, count: 3 * plane)
    for c in 0..<3 {
      let base = Float((tint * 37 + c * 71) % 160 + 48) / 255
      for j in 0..<plane { pixels[c * plane + j] = min(1, max(0, base + Float(rng.int(61) - 30) / 255)) }
    }
    return Array(try ImageEncoder.png(Image(width: side, height: side, pixels: pixels)))
  }

  /// `models` model folders (`model0`, `model1`, …) of `perModel` PNGs each under `root`.
  static func writeModelFolders(in root: URL, models: Int, perModel: Int) throws {
    for m in 0..<models {
      let folder = root.appendingPathComponent("model\(m)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      for i in 0..<perModel {
        let bytes = try png(tint: m, seed: UInt64(m * 100 + i))
        try Data(bytes).write(to: folder.appendingPathComponent(String(format: "img%02d.png", i)))
      }
    }
  }

  /// Four 96 px noise photos under `dir`/photos (textured at every downscale, so the tile sampler keeps
  /// their tiles) and a pool of `archs` synthesized from them on 16 px tiles for 3 steps under
  /// `dir`/pool. Returns `synthesize`'s run.
  static func synthesizeTinyPool(in dir: Scratch, archs: [String]) throws -> CLIResult {
    var rng = RNG(seed: 5)
    for i in 0..<4 {
      let photo = Image(width: 96, height: 96, pixels: (0..<(3 * 96 * 96)).map { _ in rng.uniform() })
      try dir.write("photos/\(i).png", Array(try ImageEncoder.png(photo)))
    }
    return try CLI.run([
      "synthesize", "--images", dir.path("photos"), "--archs", archs.joined(separator: ","), "--steps", "3",
      "--batch", "2", "--size", "16", "--tiles", "24", "--workers", "1", "--out", dir.path("pool"),
    ])
  }

  /// Seeded random bytes: no image signature, no valid safetensors header, not SQLite, not JSON.
  static func randomBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var rng = RNG(seed: seed)
    return (0..<count).map { _ in UInt8(rng.int(256)) }
  }
}
