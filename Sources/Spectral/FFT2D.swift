// |FFT2| of real images of any size: KissFFT 1-D complex transforms, rows then columns.
//
// Shapes: a plane is H×W Float32, row-major; a batch is [N, C, H, W] (plain layout).
// Real input makes the spectrum Hermitian, F[u, v] = conj(F[(H−u) mod H, (W−v) mod W]), so only the
// W/2 + 1 non-negative column frequencies are transformed and the rest are mirrored. Two real rows go
// through one complex FFT as a + ib and are separated afterwards (Numerical Recipes §12.3), which
// halves the row work. The plain twin is ``ReferenceDFT``.

import CFFT
import Tensor

/// The two-dimensional discrete Fourier transform of real images, as magnitudes.
///
/// `FFT2D(height:width:)` holds the cached 1-D plans of one image size and transforms single planes;
/// ``FFT2D/magnitude(_:)`` transforms whole batches in parallel. Any size works (odd, even, prime);
/// sizes with only small prime factors are fastest.
public struct FFT2D: Sendable {
  /// The plane height H.
  public let height: Int
  /// The plane width W.
  public let width: Int
  private let rowPlan: FFTPlan
  private let columnPlan: FFTPlan

  /// The number of non-negative column frequencies, W/2 + 1: the ones that are transformed.
  private var halfWidth: Int { width / 2 + 1 }

  /// Plans for H×W planes (shared with every other user of the same lengths).
  public init(height: Int, width: Int) {
    precondition(height >= 1 && width >= 1, "FFT2D needs a non-empty plane, got \(height)×\(width)")
    self.height = height
    self.width = width
    rowPlan = FFTPlan.forward(width)
    columnPlan = FFTPlan.forward(height)
  }

  /// Complex scratch elements one plane transform needs.
  var scratchCount: Int { 2 * width + halfWidth * height + height }

  /// Writes |FFT2(input)| of one H×W plane to `output` (H×W, unshifted: frequency 0 at [0, 0]).
  public func magnitude(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
    let scratch = UnsafeMutablePointer<kiss_fft_cpx>.allocate(capacity: scratchCount)
    defer { scratch.deallocate() }
    magnitude(input, into: output, scratch: scratch)
  }

  /// ``magnitude(_:into:)`` with caller-provided scratch of ``scratchCount`` elements.
  func magnitude(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<kiss_fft_cpx>
  ) {
    let h = height
    let w = width
    let hw = halfWidth
    let rowIn = scratch  // [W]: two real rows packed as a + ib
    let rowOut = scratch + w  // [W]
    let half = scratch + 2 * w  // [W/2+1][H]: row spectra, transposed so each column is contiguous
    let column = half + hw * h  // [H]

    var y = 0
    while y < h {
      let a = input + y * w
      let paired = y + 1 < h
      if paired {
        let b = a + w
        for x in 0..<w { rowIn[x] = kiss_fft_cpx(r: a[x], i: b[x]) }
      } else {
        for x in 0..<w { rowIn[x] = kiss_fft_cpx(r: a[x], i: 0) }
      }
      rowPlan.transform(rowIn, rowOut)
      if paired {
        // Z = A + iB with A, B Hermitian: A[k] = (Z[k] + conj Z[−k]) / 2, B[k] = (Z[k] − conj Z[−k]) / 2i.
        for k in 0..<hw {
          let z = rowOut[k]
          let m = rowOut[k == 0 ? 0 : w - k]
          half[k * h + y] = kiss_fft_cpx(r: 0.5 * (z.r + m.r), i: 0.5 * (z.i - m.i))
          half[k * h + y + 1] = kiss_fft_cpx(r: 0.5 * (z.i + m.i), i: 0.5 * (m.r - z.r))
        }
      } else {
        for k in 0..<hw { half[k * h + y] = rowOut[k] }
      }
      y += 2
    }

    // Column k's spectrum gives output column k and, through the Hermitian mirror
    // |F[u, W − k]| = |F[(H − u) mod H, k]|, output column W − k for k = 1 … W − (W/2 + 1).
    for k in 0..<hw {
      columnPlan.transform(half + k * h, column)
      let mirrored = k >= 1 && k <= w - hw
      for u in 0..<h {
        let c = column[u]
        let m = (c.r * c.r + c.i * c.i).squareRoot()
        output[u * w + k] = m
        if mirrored { output[(u == 0 ? 0 : h - u) * w + (w - k)] = m }
      }
    }
  }

  /// |FFT2| of every channel of a batch.
  ///
  /// - Parameter images: [N, C, H, W], any layout (blocked ones are reordered to plain first).
  /// - Returns: [N, C, H, W] magnitudes, plain, unshifted (frequency 0 at [0, 0]); see
  ///   ``Spectrum/fftshift(_:)``.
  ///
  /// Planes are spread over ``Threads/count`` threads; the result does not depend on the thread count.
  public static func magnitude(_ images: Tensor) -> Tensor {
    precondition(images.shape.rank == 4, "FFT2D.magnitude needs [N, C, H, W], got \(images.shape)")
    let x = images.toLayout(.plain, differentiable: false)
    let h = x.shape[2]
    let w = x.shape[3]
    let out = Tensor(uninitialized: x.shape)
    let planes = x.shape[0] * x.shape[1]
    guard planes > 0, h > 0, w > 0 else { return out }
    let fft = FFT2D(height: h, width: w)
    let src = x.pointer
    let dst = out.pointer
    withExtendedLifetime(x) {
      Threads.parallelFor(planes) { p in
        fft.magnitude(src + p * h * w, into: dst + p * h * w)
      }
    }
    return out
  }
}
