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
    centred(spectra, "fftshift") { from, to, count in to.update(from: from, count: count) }
  }

  /// log(1 + scale·|F|) elementwise. With `scale` 255 one grey level of an image in [0, 1] maps to about 1,
  /// as in the reference method.
  public static func logMagnitude(_ magnitude: Tensor, scale: Float = 255) -> Tensor {
    map(magnitude) { Foundation.log1p(scale * $0) }
  }

  /// `fftshift(logMagnitude(magnitude, scale:))` in one pass, planes split over the kernel threads, the
  /// logarithm from ``Log1p`` (within 2 units in the last place of `log1p`, tested against the two plain
  /// functions). It is the extractor's input path: the plain log1pf took a tenth of a busy server's time.
  ///
  /// Extractors trained before it read glibc's log1pf; the inputs differ by at most those 2 units, far
  /// below the 8-bit quantisation of any image: the shipped extractor, trained on log1pf, scores the same
  /// with it on every column of `score.sh` to the last digit (docs/accuracy.md).
  public static func logMagnitudeCentred(_ magnitude: Tensor, scale: Float = 255) -> Tensor {
    centred(magnitude, "logMagnitudeCentred") { from, to, count in Log1p.apply(from, to, count: count, scale: scale) }
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
    logMagnitudeCentred(FFT2D.magnitude(extractor.residual(images)), scale: scale)
  }

  /// The fftshift of `t` with `run(from, to, count)` writing each contiguous run of values to its centred
  /// place, planes of the last two dimensions split over the kernel threads; every value depends on its
  /// source alone, so the result does not depend on the thread count.
  private static func centred(
    _ t: Tensor, _ op: String,
    _ run: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
  ) -> Tensor {
    precondition(t.shape.rank >= 2, "\(op) needs at least 2 dimensions, got \(t.shape)")
    let x = t.toLayout(.plain, differentiable: false)
    let h = x.shape[-2]
    let w = x.shape[-1]
    let out = Tensor(uninitialized: x.shape)
    guard h > 0, w > 0 else { return out }
    let planes = x.count / (h * w)
    let src = UnsafePointer(x.pointer)
    let dst = out.pointer
    withExtendedLifetime(x) {
      Threads.parallelFor(planes) { p in
        let from = src + p * h * w
        let to = dst + p * h * w
        // out[y, x] = in[(y − ⌊h/2⌋) mod h, (x − ⌊w/2⌋) mod w]: two contiguous runs per row.
        let lead = w / 2
        for y in 0..<h {
          let s = from + ((y + h - h / 2) % h) * w
          let d = to + y * w
          run(s, d + lead, w - lead)
          run(s + (w - lead), d, lead)
        }
      }
    }
    return out
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
