// The residual spectra a gallery keeps per model, for explanations: the centred 2-D log spectrum of the
// extractor's own input (image − 3×3 box blur, log1p(255·|FFT2|), channels averaged) and its 1-D
// azimuthal profile (decibels per radius), both over the same n × n windows the extractor embeds.
//
// Shapes: spectrum side·side row-major, profile R = AzimuthalIntegration.radiusCount(side, side).

import Fingerprint
import Imaging
import Spectral

/// Sums of per-image residual spectra: what a model's mean spectrum is computed from, so that enrolling
/// more images only adds to it.
public struct ResidualSpectra: Codable, Equatable, Sendable {
  /// Window side in pixels (the extractor's patch size).
  public var side: Int
  /// Images summed.
  public var count: Int
  /// Sum over images of each image's mean 2-D log spectrum, side·side row-major.
  public var spectrum: [Float]
  /// Sum over images of each image's mean 1-D profile (decibels per radius).
  public var profile: [Float]

  /// Sums of `count` images (the values are sums, not means).
  public init(side: Int, count: Int, spectrum: [Float], profile: [Float]) {
    self.side = side
    self.count = count
    self.spectrum = spectrum
    self.profile = profile
  }

  /// Nothing summed yet, for windows of `side` pixels.
  public static func empty(side: Int) -> ResidualSpectra {
    ResidualSpectra(
      side: side, count: 0, spectrum: [Float](repeating: 0, count: side * side),
      profile: [Float](repeating: 0, count: AzimuthalIntegration.radiusCount(height: side, width: side)))
  }

  /// One image's spectra over the `grid` × `grid` windows `input` cuts from it (the extractor's windows).
  public static func of(_ image: Image, input: SpectralInput, grid: Int = Extractor.defaultGrid) -> ResidualSpectra {
    var summary = SpectralSummary(side: input.size)
    summary.add(input.windows(image, grid: grid), residual: HighPassResidual())
    return ResidualSpectra(side: input.size, count: 1, spectrum: summary.meanLogSpectrum, profile: summary.meanProfile)
  }

  /// Why these sums cannot be used (as read from a file), or nil when they can.
  public var problem: String? {
    guard SpectralInput.sizes.contains(side) else { return "window side \(side) is outside \(SpectralInput.sizes)" }
    guard count >= 1 else { return "image count \(count) is below 1" }
    guard spectrum.count == side * side else {
      return "the spectrum has \(spectrum.count) values, a side of \(side) needs \(side * side)"
    }
    let r = AzimuthalIntegration.radiusCount(height: side, width: side)
    guard profile.count == r else { return "the profile has \(profile.count) values, a side of \(side) needs \(r)" }
    guard spectrum.allSatisfy(\.isFinite), profile.allSatisfy(\.isFinite) else { return "non-finite values" }
    return nil
  }

  /// These sums plus `other`'s (same side).
  public func adding(_ other: ResidualSpectra) -> ResidualSpectra {
    precondition(other.side == side, "ResidualSpectra: adding side \(other.side) to side \(side)")
    return ResidualSpectra(
      side: side, count: count + other.count, spectrum: zip(spectrum, other.spectrum).map(+),
      profile: zip(profile, other.profile).map(+))
  }

  /// The mean 2-D log spectrum over the summed images.
  public var meanSpectrum: [Float] { spectrum.map { $0 / Float(max(count, 1)) } }
  /// The mean 1-D profile over the summed images.
  public var meanProfile: [Float] { profile.map { $0 / Float(max(count, 1)) } }
}
