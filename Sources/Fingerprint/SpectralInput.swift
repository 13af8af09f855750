import Foundation
import Imaging
import Spectral
import Tensor

/// How an image becomes the extractor's input: residual, spectrum variant and per-channel
/// standardisation. Stored in every extractor checkpoint, so inference always uses the settings the
/// network was trained with.
public struct SpectralInput: Codable, Equatable, Sendable {
  /// Patch side in pixels.
  public var size: Int = 64
  /// `highpass`: image − 3×3 box blur (reflect padding), the only residual this build computes; a
  /// checkpoint naming another is refused on load (see ``problem``) rather than fed the wrong input.
  public var residual: String = "highpass"
  /// `log1p-shift`: fftshift(log1p(255·|FFT2|)) per colour channel, the only spectrum this build
  /// computes; checked on load like ``residual``.
  public var spectrum: String = "log1p-shift"
  /// Per-channel mean and standard deviation of the training spectra.
  public var mean: [Float] = [0, 0, 0]
  public var std: [Float] = [1, 1, 1]

  public init() {}

  /// The residuals and spectra ``rawSpectra(_:into:)`` computes.
  public static let residuals = ["highpass"]
  public static let spectra = ["log1p-shift"]
  /// Patch sides a checkpoint may give: the high-pass residual needs 2 px, and beyond 4096 px one
  /// window's spectrum alone would take hundreds of megabytes.
  public static let sizes = 2...4096

  /// Why these settings cannot be used (as read from a checkpoint), or nil when they can.
  public var problem: String? {
    if !Self.residuals.contains(residual) {
      return "residual '\(residual)' is not one this build computes (\(Self.residuals.joined(separator: ", ")))"
    }
    if !Self.spectra.contains(spectrum) {
      return "spectrum '\(spectrum)' is not one this build computes (\(Self.spectra.joined(separator: ", ")))"
    }
    if !Self.sizes.contains(size) { return "patch size \(size) is outside \(Self.sizes)" }
    guard mean.count == 3, std.count == 3 else {
      return "mean and std need 3 values (one per colour channel), got \(mean.count) and \(std.count)"
    }
    guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
      return "mean \(mean) and std \(std) must be finite, std positive"
    }
    return nil
  }

  /// Spectra of `images` ([N, 3, size, size] in [0, 1]) into `out` (N·3·size·size floats), unstandardised.
  public func rawSpectra(_ images: Tensor, into out: UnsafeMutablePointer<Float>) {
    precondition(
      images.shape.rank == 4 && images.shape[1] == 3 && images.shape[2] == size && images.shape[3] == size,
      "SpectralInput(size: \(size)) got \(images.shape)")
    let s = Spectrum.logResidualSpectrum(images)
    withExtendedLifetime(s) { out.update(from: s.pointer, count: s.count) }
  }

  /// Standardises spectra in place with ``mean`` and ``std``.
  public func standardise(_ p: UnsafeMutablePointer<Float>, count n: Int) {
    let plane = size * size
    for i in 0..<n {
      for c in 0..<3 {
        let q = p + (i * 3 + c) * plane
        let m = mean[c]
        let inv = 1 / std[c]
        for j in 0..<plane { q[j] = (q[j] - m) * inv }
      }
    }
  }

  /// The standardised network input for `images`, [N, 3, size, size].
  public func callAsFunction(_ images: Tensor) -> Tensor {
    let out = Tensor(uninitialized: images.shape)
    rawSpectra(images, into: out.pointer)
    standardise(out.pointer, count: images.shape[0])
    return out
  }

  /// Top-left corners of an n × n grid of `size` windows spread evenly from edge to edge of a
  /// `width`×`height` image (rounded as numpy's linspace then round).
  public func windowOrigins(width: Int, height: Int, grid n: Int) -> [(x: Int, y: Int)] {
    func spread(_ extent: Int) -> [Int] {
      n == 1
        ? [(extent - size) / 2]
        : (0..<n).map { Int((Double(extent - size) * Double($0) / Double(n - 1)).rounded(.toNearestOrEven)) }
    }
    let ys = spread(height)
    let xs = spread(width)
    return ys.flatMap { y in xs.map { (x: $0, y: y) } }
  }

  /// The n × n windows of an image (scaled up first, bicubic, when its shorter side is below `size`;
  /// the longer side then stops at `Image.maxUpscaledAspect` times `size`, so that a thin strip cannot
  /// take gigabytes).
  public func windows(_ image: Image, grid n: Int) -> [Image] {
    var img = image
    if min(img.width, img.height) < size {
      let f = Double(size) / Double(min(img.width, img.height))
      let cap = Image.maxUpscaledAspect * size
      img = img.resized(
        width: min(cap, max(size, Int((Double(img.width) * f).rounded()))),
        height: min(cap, max(size, Int((Double(img.height) * f).rounded()))),
        filter: .bicubic)
    }
    return windowOrigins(width: img.width, height: img.height, grid: n).map {
      img.cropped(x: $0.x, y: $0.y, width: size, height: size)
    }
  }
}
