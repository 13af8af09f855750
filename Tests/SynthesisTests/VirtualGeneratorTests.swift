import Imaging
import Tensor
import XCTest

@testable import Synthesis

final class VirtualGeneratorTests: XCTestCase {
  func randomTile(_ size: Int, _ rng: inout RNG) -> Image {
    Image(width: size, height: size, pixels: (0..<(3 * size * size)).map { _ in Float(rng.int(256)) / 255 })
  }

  /// A stage whose upsampling taps are `taps(phase)` for every channel and whose filter is the identity.
  func stage(_ taps: (Int) -> [Float]) -> VirtualGenerator.Stage {
    let up = (0..<4).flatMap { phase in (0..<3).flatMap { _ in taps(phase) } }
    let identity: [Float] = [0, 0, 0, 0, 1, 0, 0, 0, 0]
    return .init(upsampling: up, convolution: Array(repeating: identity, count: 3).flatMap { $0 })
  }

  func testIdentityLeavesAnEightBitTileAsItIs() {
    var rng = RNG(seed: 1)
    let tile = randomTile(16, &rng)
    XCTAssertEqual(VirtualGenerator.identity.apply(tile, rng: &rng), tile)
  }

  /// The bilinear taps are PyTorch's `align_corners=False` ×2 (``ResizeFilter/bilinear``, edges
  /// clamped): the same at most four nonzero products of values ≤ 1 per pixel, each side rounding at
  /// most 7 times by u = ε/2, so they differ by at most 7ε.
  /// The nearest taps copy each low-resolution pixel to its 2 × 2 block exactly.
  func testUpsamplingTapsMatchTheResamplers() {
    var rng = RNG(seed: 2)
    let low = randomTile(8, &rng)
    let bilinearStage = VirtualGenerator.baseTaps(bilinear: true)
    let up = VirtualGenerator.upsample(low.pixels, width: 8, height: 8, taps: bilinearStage)
    let reference = low.resized(width: 16, height: 16, filter: .bilinear).pixels
    for (a, b) in zip(up, reference) { XCTAssertEqual(a, b, accuracy: 7 * Float.ulpOfOne) }
    let nearest = VirtualGenerator.upsample(
      low.pixels, width: 8, height: 8, taps: VirtualGenerator.baseTaps(bilinear: false))
    for c in 0..<3 {
      for y in 0..<16 {
        for x in 0..<16 { XCTAssertEqual(nearest[(c * 16 + y) * 16 + x], low.pixels[(c * 8 + y / 2) * 8 + x / 2]) }
      }
    }
    // Through `apply` too: one nearest stage and no other trace is a 2 × 2 box average copied back.
    var g = VirtualGenerator.identity
    g.stages = [stage { _ in [0, 0, 0, 0, 1, 0, 0, 0, 0] }]
    let tile = randomTile(16, &rng)
    let out = g.apply(tile, rng: &rng)
    let box = tile.resized(width: 8, height: 8, filter: .area)
    for c in 0..<3 {
      for y in 0..<16 {
        for x in 0..<16 {
          let want = Float(unitToByte(box.pixels[(c * 8 + y / 2) * 8 + x / 2])) / 255
          XCTAssertEqual(out.pixels[(c * 16 + y) * 16 + x], want)
        }
      }
    }
  }

  /// Every draw fits its tile size, yields 8-bit values in [0, 1], is reproducible from its seed and
  /// changes the tile; draws differ from one another; a generator without noise never reads `rng`.
  func testDrawsAreReproducibleEightBitAndDistinct() {
    for size in [8, 16, 32, 64] {
      XCTAssertEqual(size % (1 << VirtualGenerator.maximumStages(size: size)), 0)
      var rng = RNG(seed: UInt64(size))
      let tile = randomTile(size, &rng)
      var outputs: [Image] = []
      var stageCounts = Set<Int>()
      for i in 0..<40 {
        var r1 = RNG(seed: UInt64(100 + i))
        var r2 = RNG(seed: UInt64(100 + i))
        let g = VirtualGenerator.draw(size: size, rng: &r1)
        XCTAssertEqual(g, VirtualGenerator.draw(size: size, rng: &r2))
        stageCounts.insert(g.stages.count)
        let out = g.apply(tile, rng: &r1)
        XCTAssertEqual(out, g.apply(tile, rng: &r2))
        XCTAssertEqual([out.width, out.height], [size, size])
        XCTAssertTrue(out.pixels.allSatisfy { (0...1).contains($0) && ($0 * 255).rounded() == $0 * 255 })
        XCTAssertNotEqual(out, tile, "generator \(i) at \(size) px left no trace")
        if g.noise == nil {
          var other = RNG(seed: 7)
          XCTAssertEqual(g.apply(tile, rng: &other), out)
        }
        outputs.append(out)
      }
      XCTAssertEqual(Set(outputs.map(\.pixels)).count, outputs.count, "two draws at \(size) px gave one output")
      XCTAssertEqual(stageCounts, Set(0...VirtualGenerator.maximumStages(size: size)))
    }
  }
}
