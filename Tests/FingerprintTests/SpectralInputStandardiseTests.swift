import Fingerprint
import Tensor
import XCTest

/// `SpectralInput.standardise` (split over threads) against the formula written out per value.
final class SpectralInputStandardiseTests: XCTestCase {
  func testPerChannelAndPerFrequencyMatchThePlainFormula() {
    var rng = RNG(seed: 3)
    for (n, size) in [(1, 16), (5, 16), (7, 32)] {
      var input = SpectralInput()
      input.size = size
      input.mean = [0.5, -1, 2]
      input.std = [0.25, 3, 1.5]
      let x = Tensor.uniform([n, 3, size, size], -4, 4, rng: &rng)
      let raw = x.array
      let plane = size * size
      let channel = Tensor(raw, shape: x.shape)
      input.standardise(channel.pointer, count: n)
      let expected = raw.indices.map { i in
        let c = (i / plane) % 3
        return (raw[i] - input.mean[c]) * (1 / input.std[c])
      }
      XCTAssertEqual(channel.array, expected, "channel, n \(n), size \(size)")

      let fm = (0..<(3 * plane)).map { Float($0 % 11) * 0.1 }
      let fs = (0..<(3 * plane)).map { 0.5 + Float($0 % 7) * 0.25 }
      input.frequencyMean = fm
      input.frequencyStd = fs
      let frequency = Tensor(raw, shape: x.shape)
      input.standardise(frequency.pointer, count: n)
      let expectedFrequency = raw.indices.map { i in (raw[i] - fm[i % (3 * plane)]) * (1 / fs[i % (3 * plane)]) }
      XCTAssertEqual(frequency.array, expectedFrequency, "frequency, n \(n), size \(size)")
    }
  }
}
