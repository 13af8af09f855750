// The plain twin of ``FFT2D``: the 2-D DFT straight from its definition, in Float64.
//
// Shapes: a plane is H×W, row-major. O(H²W²), for tests on small planes only.

import Foundation
import Tensor

/// The two-dimensional DFT by its definition, F[u, v] = Σ_y Σ_x f[y, x]·e^(−2πi(uy/H + vx/W)), in Float64.
public enum ReferenceDFT {
  /// The complex spectrum of one H×W plane (unshifted), as real and imaginary parts, row-major.
  public static func transform(_ plane: [Double], height h: Int, width w: Int) -> (re: [Double], im: [Double]) {
    precondition(plane.count == h * w, "plane has \(plane.count) values, expected \(h)×\(w)")
    // Twiddles by exponent modulo the length, so no angle grows large enough to lose precision.
    let cosH = (0..<h).map { cos(-2 * Double.pi * Double($0) / Double(h)) }
    let sinH = (0..<h).map { sin(-2 * Double.pi * Double($0) / Double(h)) }
    let cosW = (0..<w).map { cos(-2 * Double.pi * Double($0) / Double(w)) }
    let sinW = (0..<w).map { sin(-2 * Double.pi * Double($0) / Double(w)) }
    var re = [Double](repeating: 0, count: h * w)
    var im = [Double](repeating: 0, count: h * w)
    for u in 0..<h {
      for v in 0..<w {
        var sr = 0.0
        var si = 0.0
        for y in 0..<h {
          let ey = (u * y) % h
          for x in 0..<w {
            let ex = (v * x) % w
            // e^(iα)·e^(iβ) with α = −2π·uy/H and β = −2π·vx/W.
            let c = cosH[ey] * cosW[ex] - sinH[ey] * sinW[ex]
            let s = sinH[ey] * cosW[ex] + cosH[ey] * sinW[ex]
            let f = plane[y * w + x]
            sr += f * c
            si += f * s
          }
        }
        re[u * w + v] = sr
        im[u * w + v] = si
      }
    }
    return (re, im)
  }

  /// |DFT2| of every channel of a batch [N, C, H, W], row-major over [N, C, H, W].
  public static func magnitude(_ images: Tensor) -> [Double] {
    precondition(images.shape.rank == 4, "ReferenceDFT.magnitude needs [N, C, H, W], got \(images.shape)")
    let values = images.array.map(Double.init)
    let h = images.shape[2]
    let w = images.shape[3]
    var out: [Double] = []
    out.reserveCapacity(values.count)
    for p in 0..<(images.shape[0] * images.shape[1]) {
      let (re, im) = transform(Array(values[(p * h * w)..<((p + 1) * h * w)]), height: h, width: w)
      for i in 0..<(h * w) { out.append((re[i] * re[i] + im[i] * im[i]).squareRoot()) }
    }
    return out
  }
}
