// Hand-crafted baselines scored on the same protocol as the learned extractor: functions from an image to
// an embedding vector, so that Metrics, the protocol and the gallery treat them like any extractor.
//
// Both read the centred size × size square of the image's luminance (Y = 0.299 R + 0.587 G + 0.114 B;
// smaller images are scaled up, bicubic, first). One plane instead of three keeps a 256² embedding at
// 65,536 values, so that a whole evaluation set fits in memory.
//
// - `marra`: Marra et al., "Do GANs leave artificial fingerprints?" (2019). The noise residual is the
//   image minus its 3×3 box blur (reflect padding, Spectral's ``HighPassResidual``), made zero-mean so
//   that the cosine of two residuals is their normalised cross-correlation. A model's fingerprint is the
//   gallery's mean of normalised residuals, a rescaled version of the paper's plain mean residual when
//   residuals carry similar energy.
// - `spectrum`: log(1 + 255·|FFT2|) of the luminance square itself (no residual), compared by cosine.

import Imaging
import Spectral
import Tensor

/// A hand-crafted embedding method.
public enum Baseline: String, CaseIterable, Sendable {
  /// Noise residuals compared by normalised cross-correlation (Marra et al. 2019).
  case marra
  /// Raw log-magnitude spectra compared by cosine.
  case spectrum

  /// The side of the centre square the methods read.
  public static let defaultSize = 256

  /// The embedding of one image: `size`² values.
  public func embed(_ image: Image, size: Int = Baseline.defaultSize) -> [Float] {
    let plane = Self.luminance(image.centerSquare(size))
    let t = Tensor(plane, shape: [1, 1, size, size])
    switch self {
    case .marra:
      var r = HighPassResidual().residual(t).array
      let mean = r.reduce(0, +) / Float(r.count)
      for i in r.indices { r[i] -= mean }
      return r
    case .spectrum:
      return Spectrum.logMagnitude(FFT2D.magnitude(t)).array
    }
  }

  /// Settings that identify the method's embeddings (stored by a gallery built with it).
  public func settings(size: Int = Baseline.defaultSize) -> String {
    "{\"method\":\"\(rawValue)\",\"size\":\(size),\"plane\":\"luminance\"}"
  }

  /// The luminance plane of an image ([3, H, W] planes in, H × W out).
  static func luminance(_ image: Image) -> [Float] {
    let n = image.width * image.height
    return (0..<n).map { 0.299 * image.pixels[$0] + 0.587 * image.pixels[n + $0] + 0.114 * image.pixels[2 * n + $0] }
  }
}
