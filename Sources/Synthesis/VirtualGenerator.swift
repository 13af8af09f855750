import Foundation
import Imaging
import Tensor

/// A generator drawn at random and never trained: the last stages of a convolutional decoder, with
/// weights set so that the output is the input plus the traces those stages leave. A photo tile is
/// averaged down by 2^s, then each of the s stages upsamples ×2 (nearest or bilinear taps, perturbed
/// per output phase as a learned transposed or pixel-shuffle convolution is, which leaves a
/// checkerboard) and filters with a near-identity 3 × 3 convolution (a blur or sharpening tilt plus a
/// zero-sum perturbation); then a near-identity colour mix, an optional additive periodic pattern, optional
/// coloured noise of a fixed spectrum, an optional saturating output and 8-bit rounding.
///
/// Drawing one costs microseconds, so training can meet a new generator at every step and never see
/// one twice (fresh virtual generators instead of a fixed pool). A generator is a value: the same
/// draw applied to two photos leaves the same traces; only its noise differs from image to image.
public struct VirtualGenerator: Sendable, Equatable {
  /// One ×2 stage: `upsampling[((phase · 3) + channel) · 9 + tap]` are the 3 × 3 low-resolution taps of
  /// output phase (dy, dx) = (phase / 2, phase % 2); `convolution[channel · 9 + tap]` the filter after it.
  public struct Stage: Sendable, Equatable {
    public var upsampling: [Float]
    public var convolution: [Float]
  }

  /// An additive pattern repeating every `period` pixels, `values[(channel · period + y) · period + x]`.
  public struct Pattern: Sendable, Equatable {
    public var period: Int
    public var values: [Float]
  }

  /// Noise added to every output: std `std`, coloured by the 3 × 3 `kernel` (unit energy), one field for
  /// all channels when `shared`.
  public struct Noise: Sendable, Equatable {
    public var std: Float
    public var kernel: [Float]
    public var shared: Bool
  }

  public var stages: [Stage]
  /// Colour mix (row-major 3 × 3) and bias applied after the last stage.
  public var colour: [Float]
  public var bias: [Float]
  public var pattern: Pattern?
  public var noise: Noise?
  /// Gain of a tanh output (`0.5 + 0.5 · tanh(g (x − 0.5)) / tanh(g / 2)`, which keeps 0, ½ and 1), or nil.
  public var squash: Float?

  /// A generator with no trace at all: the identity up to 8-bit rounding.
  public static let identity = VirtualGenerator(
    stages: [], colour: [1, 0, 0, 0, 1, 0, 0, 0, 1], bias: [0, 0, 0], pattern: nil, noise: nil, squash: nil)

  public init(
    stages: [Stage], colour: [Float], bias: [Float], pattern: Pattern?, noise: Noise?, squash: Float?
  ) {
    precondition(
      colour.count == 9 && bias.count == 3
        && stages.allSatisfy { $0.upsampling.count == 4 * 3 * 9 && $0.convolution.count == 3 * 9 }
        && (pattern.map { $0.period >= 1 && $0.values.count == 3 * $0.period * $0.period } ?? true)
        && (noise.map { $0.kernel.count == 9 } ?? true),
      "VirtualGenerator: colour \(colour.count) (9), bias \(bias.count) (3), stages "
        + "\(stages.map { [$0.upsampling.count, $0.convolution.count] }) ([108, 27] each)")
    self.stages = stages
    self.colour = colour
    self.bias = bias
    self.pattern = pattern
    self.noise = noise
    self.squash = squash
  }

  /// Up-sampling stages a tile of `size` px can take: its side must divide by 2^s and leave at least 4 px.
  public static func maximumStages(size: Int) -> Int {
    var s = 0
    while s < 3, size % (1 << (s + 1)) == 0, size >> (s + 1) >= 4 { s += 1 }
    return s
  }

  /// A generator for tiles of `size` px drawn from `rng`. The ranges are set a priori from what
  /// decoders do (a few ×2 stages, near-identity filters, traces of a few 8-bit levels at most).
  public static func draw(size: Int, rng: inout RNG) -> VirtualGenerator {
    let most = maximumStages(size: size)
    let weights: [Float] = [0.1, 0.3, 0.3, 0.3].prefix(most + 1).map { $0 }
    var pick = rng.uniform() * weights.reduce(0, +)
    var count = 0
    while count < most && pick >= weights[count] {
      pick -= weights[count]
      count += 1
    }
    let stages = (0..<count).map { _ in drawStage(rng: &rng) }
    let colour = (0..<9).map { i in (i % 4 == 0 ? 1 : 0) + 0.02 * rng.normal() }
    let bias = (0..<3).map { _ in 0.01 * rng.normal() }
    var pattern: Pattern? = nil
    if rng.uniform() < 0.4 {
      let period = [2, 4, 8].filter { $0 <= size }[rng.int(size >= 8 ? 3 : 2)]
      let amplitude = logUniform(0.002, 0.02, &rng)
      var values = (0..<(3 * period * period)).map { _ in rng.normal() }
      // Zero mean per channel, so the pattern adds texture and not a colour cast.
      for c in 0..<3 {
        let plane = (c * period * period)..<((c + 1) * period * period)
        let mean = values[plane].reduce(0, +) / Float(period * period)
        for i in plane { values[i] = amplitude * (values[i] - mean) }
      }
      pattern = Pattern(period: period, values: values)
    }
    var noise: Noise? = nil
    if rng.uniform() < 0.5 {
      var kernel = (0..<9).map { i in (i == 4 ? 1 : 0) + 0.5 * rng.normal() }
      let energy = kernel.reduce(0) { $0 + $1 * $1 }.squareRoot()
      kernel = kernel.map { $0 / max(energy, 1e-6) }
      noise = Noise(std: logUniform(0.002, 0.03, &rng), kernel: kernel, shared: rng.uniform() < 0.5)
    }
    let squash: Float? = rng.uniform() < 0.3 ? rng.uniform(1, 3) : nil
    return VirtualGenerator(stages: stages, colour: colour, bias: bias, pattern: pattern, noise: noise, squash: squash)
  }

  private static func logUniform(_ low: Float, _ high: Float, _ rng: inout RNG) -> Float {
    Foundation.exp(Foundation.log(low) + (Foundation.log(high) - Foundation.log(low)) * rng.uniform())
  }

  /// Taps of output phase d along one axis at offsets −1, 0, 1: bilinear ×2 (half-pixel centres) puts
  /// ¾ on the pixel and ¼ on the neighbour on the phase's side; nearest copies the pixel.
  static func axisTaps(_ d: Int, bilinear: Bool) -> [Float] {
    bilinear ? (d == 0 ? [0.25, 0.75, 0] : [0, 0.75, 0.25]) : [0, 1, 0]
  }

  /// The unperturbed upsampling taps of a stage, laid out as ``Stage/upsampling``.
  static func baseTaps(bilinear: Bool) -> [Float] {
    (0..<4).flatMap { phase in
      let (ty, tx) = (axisTaps(phase / 2, bilinear: bilinear), axisTaps(phase % 2, bilinear: bilinear))
      return (0..<3).flatMap { _ in (0..<9).map { ty[$0 / 3] * tx[$0 % 3] } }
    }
  }

  private static func drawStage(rng: inout RNG) -> Stage {
    let bilinear = rng.uniform() < 0.65
    func taps(_ d: Int) -> [Float] { axisTaps(d, bilinear: bilinear) }
    let learned = rng.uniform() < 0.7
    let epsilon: Float = learned ? logUniform(0.01, 0.3, &rng) : 0
    let perChannel = rng.uniform() < 0.5
    var up = [Float](repeating: 0, count: 4 * 3 * 9)
    for phase in 0..<4 {
      let (ty, tx) = (taps(phase / 2), taps(phase % 2))
      // A learned upsampler's phases differ in gain too: that is the checkerboard.
      let gain = 1 + 0.5 * epsilon * rng.normal()
      let shared = (0..<9).map { _ in epsilon * rng.normal() / 3 }
      for c in 0..<3 {
        let own = perChannel ? (0..<9).map { _ in epsilon * rng.normal() / 3 } : shared
        var k = (0..<9).map { ty[$0 / 3] * tx[$0 % 3] + own[$0] }
        let sum = k.reduce(0, +)
        if abs(sum) > 1e-3 { k = k.map { $0 * gain / sum } }
        for t in 0..<9 { up[(phase * 3 + c) * 9 + t] = k[t] }
      }
    }
    let tilt = rng.uniform(-0.5, 0.8)
    let sigma = logUniform(0.005, 0.1, &rng)
    var conv = [Float](repeating: 0, count: 3 * 9)
    for c in 0..<3 {
      var z = (0..<9).map { _ in sigma * rng.normal() }
      let mean = z.reduce(0, +) / 9
      z = z.map { $0 - mean }
      for t in 0..<9 { conv[c * 9 + t] = (t == 4 ? 1 + tilt : 0) - tilt / 9 + z[t] }
    }
    return Stage(upsampling: up, convolution: conv)
  }

  /// `image` as this generator outputs it, 8-bit; `rng` draws the noise. The side must divide by 2^s.
  public func apply(_ image: Image, rng: inout RNG) -> Image {
    let factor = 1 << stages.count
    precondition(
      image.width % factor == 0 && image.height % factor == 0,
      "VirtualGenerator.apply: \(image.width)×\(image.height) does not divide by 2^\(stages.count)")
    var (w, h) = (image.width / factor, image.height / factor)
    var x = image.resized(width: w, height: h, filter: .area).pixels
    for stage in stages {
      x = Self.upsample(x, width: w, height: h, taps: stage.upsampling)
      (w, h) = (2 * w, 2 * h)
      x = Self.convolve(x, width: w, height: h, kernels: stage.convolution)
    }
    let plane = w * h
    var out = [Float](repeating: 0, count: 3 * plane)
    for c in 0..<3 {
      for i in 0..<plane {
        out[c * plane + i] =
          colour[c * 3] * x[i] + colour[c * 3 + 1] * x[plane + i] + colour[c * 3 + 2] * x[2 * plane + i] + bias[c]
      }
    }
    if let pattern {
      let p = pattern.period
      for c in 0..<3 {
        for y in 0..<h {
          for xx in 0..<w { out[c * plane + y * w + xx] += pattern.values[(c * p + y % p) * p + xx % p] }
        }
      }
    }
    if let noise {
      let fields = noise.shared ? 1 : 3
      var white = (0..<(fields * plane)).map { _ in noise.std * rng.normal() }
      let kernels = Array(repeating: noise.kernel, count: fields).flatMap { $0 }
      white = Self.convolve(white, width: w, height: h, kernels: kernels, planes: fields)
      for c in 0..<3 {
        let f = noise.shared ? 0 : c
        for i in 0..<plane { out[c * plane + i] += white[f * plane + i] }
      }
    }
    if let g = squash {
      let norm = Foundation.tanh(g / 2)
      out = out.map { 0.5 + 0.5 * Foundation.tanh(g * ($0 - 0.5)) / norm }
    }
    return Image(width: w, height: h, pixels: out.map { min(max($0, 0), 1) }).quantized()
  }

  /// ×2 upsampling by per-phase 3 × 3 taps on the low-resolution planes (edges replicated).
  static func upsample(_ x: [Float], width w: Int, height h: Int, taps: [Float]) -> [Float] {
    let (ow, oh) = (2 * w, 2 * h)
    var out = [Float](repeating: 0, count: 3 * ow * oh)
    for c in 0..<3 {
      let src = c * w * h
      for y in 0..<oh {
        for xx in 0..<ow {
          let phase = (y % 2) * 2 + xx % 2
          let k = (phase * 3 + c) * 9
          var s: Float = 0
          for dy in -1...1 {
            let sy = min(max(y / 2 + dy, 0), h - 1)
            for dx in -1...1 {
              let sx = min(max(xx / 2 + dx, 0), w - 1)
              s += taps[k + (dy + 1) * 3 + dx + 1] * x[src + sy * w + sx]
            }
          }
          out[c * ow * oh + y * ow + xx] = s
        }
      }
    }
    return out
  }

  /// A 3 × 3 filter per plane (edges replicated).
  static func convolve(_ x: [Float], width w: Int, height h: Int, kernels: [Float], planes: Int = 3) -> [Float] {
    var out = [Float](repeating: 0, count: planes * w * h)
    for c in 0..<planes {
      let base = c * w * h
      for y in 0..<h {
        for xx in 0..<w {
          var s: Float = 0
          for dy in -1...1 {
            let sy = min(max(y + dy, 0), h - 1)
            for dx in -1...1 {
              s += kernels[c * 9 + (dy + 1) * 3 + dx + 1] * x[base + sy * w + min(max(xx + dx, 0), w - 1)]
            }
          }
          out[base + y * w + xx] = s
        }
      }
    }
    return out
  }
}
