// The 1-D power spectrum of an image: the mean of its centred log spectrum over rings of equal radius.
//
// Follows Durall et al., "Watch your up-convolution: CNN based generative deep neural networks are
// failing to reproduce spectral distributions" (CVPR 2020): grayscale, |FFT2|, fftshift, 20·log10(|F| +
// 1e-8), mean per integer radius. The centre is numpy's fftshift centre (H/2, W/2) with integer division,
// the radius of pixel (y, x) is ⌊√((y − H/2)² + (x − W/2)²)⌋, and the profile has one entry per radius
// 0…max. Stepping one pixel changes the distance by at most 1, so every radius up to the maximum has
// pixels and no bin is empty.
//
// Shapes: images [N, 3, H, W] (or [N, 1, H, W], already gray) → profiles [N, R], R = ``radiusCount``.

import Foundation
import Tensor

/// Azimuthal integration of centred log spectra into 1-D frequency profiles.
public enum AzimuthalIntegration {
  /// The number of radii, max radius + 1, of an H×W image.
  public static func radiusCount(height h: Int, width w: Int) -> Int {
    precondition(h >= 1 && w >= 1, "radiusCount needs a non-empty image, got \(h)×\(w)")
    let dy = max(h / 2, h - 1 - h / 2)
    let dx = max(w / 2, w - 1 - w / 2)
    return radius(dy, dx) + 1
  }

  /// The 1-D spectrum of each image.
  ///
  /// - Parameter images: [N, 3, H, W] RGB (made gray as 0.299 R + 0.587 G + 0.114 B) or [N, 1, H, W]
  ///   gray, any layout.
  /// - Returns: [N, R] mean decibels per radius, R = ``radiusCount(height:width:)``.
  public static func profiles(_ images: Tensor) -> Tensor {
    let gray = grayscale(images)
    let n = gray.shape[0]
    let h = gray.shape[2]
    let w = gray.shape[3]
    let r = radiusCount(height: h, width: w)
    let ring = ringIndex(height: h, width: w)
    var counts = [Double](repeating: 0, count: r)
    for i in ring { counts[i] += 1 }
    let magnitude = FFT2D.magnitude(gray)
    let out = Tensor(uninitialized: [n, r])
    let src = magnitude.pointer
    let dst = out.pointer
    withExtendedLifetime(magnitude) {
      ring.withUnsafeBufferPointer { ring in
        Threads.parallelFor(n) { b in
          var sums = [Double](repeating: 0, count: r)
          let m = src + b * h * w
          // Unshifted frequency (u, v) sits at the shifted position ((u + H/2) mod H, (v + W/2) mod W).
          for u in 0..<h {
            let y = (u + h / 2) % h
            for v in 0..<w {
              let x = (v + w / 2) % w
              sums[ring[y * w + x]] += 20 * log10(Double(m[u * w + v]) + 1e-8)
            }
          }
          for i in 0..<r { dst[b * r + i] = Float(sums[i] / counts[i]) }
        }
      }
    }
    return out
  }

  /// The mean 1-D spectrum of a set of images: the mean over the set of ``profiles(_:)``, [R].
  public static func meanProfile(_ images: Tensor) -> [Float] {
    let p = profiles(images)
    let n = p.shape[0]
    let r = p.shape[1]
    precondition(n > 0, "meanProfile needs at least one image")
    var sums = [Double](repeating: 0, count: r)
    for b in 0..<n {
      for i in 0..<r { sums[i] += Double(p.pointer[b * r + i]) }
    }
    return withExtendedLifetime(p) { sums.map { Float($0 / Double(n)) } }
  }

  /// Luma 0.299 R + 0.587 G + 0.114 B of [N, 3, H, W] as [N, 1, H, W]; gray input passes through.
  public static func grayscale(_ images: Tensor) -> Tensor {
    precondition(
      images.shape.rank == 4 && (images.shape[1] == 3 || images.shape[1] == 1),
      "azimuthal integration needs [N, 3, H, W] or [N, 1, H, W], got \(images.shape)")
    let x = images.toLayout(.plain, differentiable: false)
    if x.shape[1] == 1 { return x }
    let n = x.shape[0]
    let hw = x.shape[2] * x.shape[3]
    let out = Tensor(uninitialized: [n, 1, x.shape[2], x.shape[3]])
    withExtendedLifetime(x) {
      for b in 0..<n {
        let rgb = x.pointer + b * 3 * hw
        let g = out.pointer + b * hw
        for i in 0..<hw { g[i] = 0.299 * rgb[i] + 0.587 * rgb[hw + i] + 0.114 * rgb[2 * hw + i] }
      }
    }
    return out
  }

  /// The ring (integer radius) of each position of a centred H×W spectrum, row-major.
  static func ringIndex(height h: Int, width w: Int) -> [Int] {
    var ring = [Int](repeating: 0, count: h * w)
    for y in 0..<h {
      for x in 0..<w { ring[y * w + x] = radius(y - h / 2, x - w / 2) }
    }
    return ring
  }

  /// ⌊√(dy² + dx²)⌋, exact: the floating-point root is corrected so perfect squares never round down.
  static func radius(_ dy: Int, _ dx: Int) -> Int {
    let d2 = dy * dy + dx * dx
    var r = Int(Double(d2).squareRoot())
    while r * r > d2 { r -= 1 }
    while (r + 1) * (r + 1) <= d2 { r += 1 }
    return r
  }
}
