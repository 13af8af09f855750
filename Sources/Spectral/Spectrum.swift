// Spectrum post-processing: centring (fftshift) and the log scales the methods use.
//
// Shapes: [..., H, W] for fftshift; any shape for the elementwise scales. Everything here is plain
// layout in, plain layout out.

import Foundation
import Tensor

/// Ways to turn |FFT2| magnitudes into the spectra the extractor and the frequency analysis read.
public enum Spectrum {
  /// Moves frequency 0 to the centre of the last two dimensions, as `numpy.fft.fftshift(x, axes=(-2, -1))`.
  ///
  /// Each axis of length n is rolled by ⌊n/2⌋, so for odd n the zero frequency lands at index ⌊n/2⌋ and
  /// the negative frequencies come first: [0, 1, 2, 3, 4] becomes [3, 4, 0, 1, 2].
  public static func fftshift(_ spectra: Tensor) -> Tensor {
    precondition(spectra.shape.rank >= 2, "fftshift needs at least 2 dimensions, got \(spectra.shape)")
    let x = spectra.toLayout(.plain, differentiable: false)
    let h = x.shape[-2]
    let w = x.shape[-1]
    let out = Tensor(uninitialized: x.shape)
    guard h > 0, w > 0 else { return out }
    let planes = x.count / (h * w)
    withExtendedLifetime(x) {
      for p in 0..<planes {
        let src = x.pointer + p * h * w
        let dst = out.pointer + p * h * w
        for y in 0..<h {
          let srcRow = src + ((y + h - h / 2) % h) * w
          let dstRow = dst + y * w
          // out[y, x] = in[(y − ⌊h/2⌋) mod h, (x − ⌊w/2⌋) mod w]: two contiguous runs per row.
          let lead = w / 2
          (dstRow + lead).update(from: srcRow, count: w - lead)
          dstRow.update(from: srcRow + (w - lead), count: lead)
        }
      }
    }
    return out
  }

  /// log(1 + scale·|F|) elementwise. With `scale` 255 one grey level of an image in [0, 1] maps to about 1,
  /// as in the reference method.
  public static func logMagnitude(_ magnitude: Tensor, scale: Float = 255) -> Tensor {
    map(magnitude) { Foundation.log1p(scale * $0) }
  }

  /// 20·log10(|F| + 1e-8) elementwise: decibels as in Durall et al., "Watch your up-convolution" (2020).
  public static func decibels(_ magnitude: Tensor) -> Tensor {
    map(magnitude) { 20 * Foundation.log10($0 + 1e-8) }
  }

  /// The reference method's extractor input: fftshift(log1p(scale·|FFT2(residual(images))|)) per channel.
  ///
  /// With the default ``HighPassResidual`` and scale 255 this is `spectrum()` of the PyTorch reference
  /// (`reference/method/common.py`).
  /// - Parameter images: [N, 3, H, W] in [0, 1].
  /// - Returns: [N, 3, H, W], centred.
  public static func logResidualSpectrum(
    _ images: Tensor, residual extractor: some ResidualExtractor = HighPassResidual(), scale: Float = 255
  ) -> Tensor {
    fftshift(logMagnitude(FFT2D.magnitude(extractor.residual(images)), scale: scale))
  }

  private static func map(_ t: Tensor, _ f: (Float) -> Float) -> Tensor {
    let x = t.toLayout(.plain, differentiable: false)
    let out = Tensor(uninitialized: x.shape)
    withExtendedLifetime(x) {
      for i in 0..<x.count { out.pointer[i] = f(x.pointer[i]) }
    }
    return out
  }
}
