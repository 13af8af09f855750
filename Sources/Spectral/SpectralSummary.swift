// Running means of a set's noise-residual spectra: the centred 2-D log spectrum (the paper's Fig. 2)
// and the 1-D azimuthal profile (the FFD's per-model representation).
//
// Shapes: batches [N, 3, S, S] in [0, 1]; the 2-D mean is S·S (channels averaged), the profile R long.

import Imaging
import Tensor

/// Accumulates the spectra of a set of equally sized square images, batch by batch.
public struct SpectralSummary {
  /// Image side in pixels.
  public let side: Int
  /// Whether the 2-D mean is kept (the 1-D profile always is).
  public let keepsSpectrum: Bool
  /// Images added so far.
  public private(set) var count = 0
  private var logSum: [Double]
  private var profileSum: [Double]

  public init(side: Int, keepsSpectrum: Bool = true) {
    precondition(side >= 2, "SpectralSummary: side must be at least 2, got \(side)")
    self.side = side
    self.keepsSpectrum = keepsSpectrum
    logSum = [Double](repeating: 0, count: keepsSpectrum ? side * side : 0)
    profileSum = [Double](repeating: 0, count: AzimuthalIntegration.radiusCount(height: side, width: side))
  }

  /// Adds a batch of images [N, 3, side, side] in [0, 1], taking residuals with `extractor`.
  public mutating func add(_ images: Tensor, residual extractor: any ResidualExtractor) {
    precondition(
      images.shape.rank == 4 && images.shape[1] == 3 && images.shape[2] == side && images.shape[3] == side,
      "SpectralSummary(side: \(side)) got \(images.shape)")
    let n = images.shape[0]
    let r = extractor.residual(images)
    if keepsSpectrum {
      let s = Spectrum.fftshift(Spectrum.logMagnitude(FFT2D.magnitude(r)))
      let plane = side * side
      withExtendedLifetime(s) {
        for p in 0..<(n * 3) {
          let src = s.pointer + p * plane
          for i in 0..<plane { logSum[i] += Double(src[i]) }
        }
      }
    }
    let prof = AzimuthalIntegration.profiles(r)
    let rc = profileSum.count
    withExtendedLifetime(prof) {
      for b in 0..<n {
        for i in 0..<rc { profileSum[i] += Double(prof.pointer[b * rc + i]) }
      }
    }
    count += n
  }

  /// Adds square images of side `side`, `batch` at a time, each batch passed through `transform`
  /// (e.g. a generator) before its residuals are taken.
  public mutating func add(
    _ images: [Image], residual extractor: any ResidualExtractor, batch: Int = 16,
    transform: (Tensor) -> Tensor = { $0 }
  ) {
    for start in stride(from: 0, to: images.count, by: batch) {
      add(transform(Image.batch(Array(images[start..<min(start + batch, images.count)]))), residual: extractor)
    }
  }

  /// Mean centred log1p(255·|F|) over images and channels, row-major side × side.
  public var meanLogSpectrum: [Float] {
    precondition(keepsSpectrum, "SpectralSummary was made with keepsSpectrum: false")
    return logSum.map { Float($0 / Double(max(3 * count, 1))) }
  }

  /// Mean 1-D spectrum (decibels per radius) over the images.
  public var meanProfile: [Float] { profileSum.map { Float($0 / Double(max(count, 1))) } }
}
