/// Resampling filters for ``Image/resized(width:height:filter:)``.
public enum ResizeFilter: String, Sendable, CaseIterable {
  /// Exact box integration: each output pixel averages the input area it covers, fractional overlaps
  /// included (downscaling without aliasing, as OpenCV's INTER_AREA).
  case area
  /// Bilinear, PyTorch's `interpolate(mode="bilinear", align_corners=False)` (no antialiasing).
  case bilinear
  /// Bicubic (Keys, a = −0.75), PyTorch's `interpolate(mode="bicubic", align_corners=False)`.
  case bicubic
}

extension Image {
  /// The image resampled to `width`×`height` (separable: rows, then columns).
  public func resized(width ow: Int, height oh: Int, filter: ResizeFilter = .area) -> Image {
    precondition(ow > 0 && oh > 0, "resize target must be positive, got \(ow)×\(oh)")
    if ow == width && oh == height { return self }
    let wx = Resampling.taps(input: width, output: ow, filter: filter)
    let wy = Resampling.taps(input: height, output: oh, filter: filter)
    var tmp = [Float](repeating: 0, count: 3 * height * ow)
    for c in 0..<3 {
      for y in 0..<height {
        let row = (c * height + y) * width
        for x in 0..<ow {
          var s: Float = 0
          for (i, w) in wx[x] { s += w * pixels[row + i] }
          tmp[(c * height + y) * ow + x] = s
        }
      }
    }
    var out = [Float](repeating: 0, count: 3 * oh * ow)
    for c in 0..<3 {
      for y in 0..<oh {
        for x in 0..<ow {
          var s: Float = 0
          for (i, w) in wy[y] { s += w * tmp[(c * height + i) * ow + x] }
          out[(c * oh + y) * ow + x] = s
        }
      }
    }
    return Image(width: ow, height: oh, pixels: out)
  }
}

/// One-dimensional resampling weights.
enum Resampling {
  /// For each output index, the input indices and weights that form it.
  static func taps(input n: Int, output m: Int, filter: ResizeFilter) -> [[(Int, Float)]] {
    let scale = Double(n) / Double(m)
    return (0..<m).map { o in
      switch filter {
      case .area:
        let lo = Double(o) * scale
        let hi = Double(o + 1) * scale
        var taps: [(Int, Float)] = []
        var i = Int(lo)
        while Double(i) < hi && i < n {
          let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
          if overlap > 0 { taps.append((i, Float(overlap / scale))) }
          i += 1
        }
        return taps
      case .bilinear:
        let s = max((Double(o) + 0.5) * scale - 0.5, 0)
        let i0 = min(Int(s), n - 1)
        let i1 = min(i0 + 1, n - 1)
        let l = Float(s - Double(i0))
        return i0 == i1 ? [(i0, Float(1))] : [(i0, 1 - l), (i1, l)]
      case .bicubic:
        let s = (Double(o) + 0.5) * scale - 0.5
        let f = s.rounded(.down)
        let t = s - f
        let a = -0.75
        func cubic(_ x: Double) -> Double {
          let x = abs(x)
          if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
          if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
          return 0
        }
        var taps: [(Int, Float)] = []
        for k in -1...2 {
          let i = min(max(Int(f) + k, 0), n - 1)
          taps.append((i, Float(cubic(Double(k) - t))))
        }
        return taps
      }
    }
  }
}

extension Image {
  /// The longest side, as a multiple of the shorter, that scaling up keeps: a 1 × 60000 strip scaled
  /// until its shorter side is 64 px would take 64 × 3 840 000 pixels (3 GB of floats).
  public static let maxUpscaledAspect = 16

  /// The centred `side`×`side` square, without resampling when the image is large enough, so that a
  /// generator's pixel-level artifacts survive; a smaller image is first scaled up (bicubic) until its
  /// shorter side is `side` (a strip longer than ``maxUpscaledAspect`` times its width is first cut to
  /// that length around its centre, which the square lies in anyway).
  public func centerSquare(_ side: Int) -> Image {
    precondition(side > 0, "centerSquare: side must be positive, got \(side)")
    var img = self
    let short = min(width, height)
    if short < side, max(width, height) > Self.maxUpscaledAspect * short {
      let (w, h) = (min(width, Self.maxUpscaledAspect * short), min(height, Self.maxUpscaledAspect * short))
      img = cropped(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }
    if min(img.width, img.height) < side {
      let f = Double(side) / Double(min(img.width, img.height))
      img = img.resized(
        width: max(side, Int((Double(img.width) * f).rounded())),
        height: max(side, Int((Double(img.height) * f).rounded())), filter: .bicubic)
    }
    return img.cropped(x: (img.width - side) / 2, y: (img.height - side) / 2, width: side, height: side)
  }

  /// The image scaled (area filter) so that its shorter side is `side`, then centre-cropped square: a
  /// whole photo as a generator input.
  public func fittedSquare(_ side: Int) -> Image {
    precondition(side > 0, "fittedSquare: side must be positive, got \(side)")
    let f = Double(side) / Double(min(width, height))
    let w = max(side, Int((Double(width) * f).rounded()))
    let h = max(side, Int((Double(height) * f).rounded()))
    let scaled = (w == width && h == height) ? self : resized(width: w, height: h, filter: f < 1 ? .area : .bicubic)
    return scaled.cropped(x: (w - side) / 2, y: (h - side) / 2, width: side, height: side)
  }
}
