import Tensor

/// An RGB image with Float32 samples in [0, 1], stored planar (all red samples, then green, then
/// blue), so that it maps directly onto a [1, 3, H, W] tensor.
public struct Image: Sendable, Equatable {
  /// Width in pixels.
  public let width: Int
  /// Height in pixels.
  public let height: Int
  /// Planar RGB samples in [0, 1]: `pixels[(c · height + y) · width + x]`.
  public var pixels: [Float]

  /// Creates an image from planar RGB samples.
  public init(width: Int, height: Int, pixels: [Float]) {
    precondition(width > 0 && height > 0, "image size must be positive, got \(width)×\(height)")
    precondition(
      pixels.count == 3 * width * height,
      "\(pixels.count) samples do not fill a \(width)×\(height) RGB image (\(3 * width * height) needed)")
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// Creates an image from interleaved 8-bit samples with `channels` per pixel (1 gray, 3 RGB, 4 RGBA;
  /// alpha is dropped as stored, never composited, so colour values stay those the generator wrote).
  public init(interleaved bytes: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, rowStride: Int? = nil) {
    precondition([1, 3, 4].contains(channels), "interleaved images have 1, 3 or 4 channels, got \(channels)")
    let stride = rowStride ?? width * channels
    let plane = width * height
    var out = [Float](repeating: 0, count: 3 * plane)
    out.withUnsafeMutableBufferPointer { p in
      for y in 0..<height {
        let row = bytes + y * stride
        for x in 0..<width {
          let s = row + x * channels
          let i = y * width + x
          if channels == 1 {
            let v = Float(s[0]) / 255
            p[i] = v
            p[plane + i] = v
            p[2 * plane + i] = v
          } else {
            p[i] = Float(s[0]) / 255
            p[plane + i] = Float(s[1]) / 255
            p[2 * plane + i] = Float(s[2]) / 255
          }
        }
      }
    }
    self.init(width: width, height: height, pixels: out)
  }

  /// The samples as interleaved 8-bit RGB (rounded, clamped), for encoders.
  public func interleavedBytes() -> [UInt8] {
    let plane = width * height
    var out = [UInt8](repeating: 0, count: 3 * plane)
    for i in 0..<plane {
      for c in 0..<3 { out[3 * i + c] = unitToByte(pixels[c * plane + i]) }
    }
    return out
  }

  /// The sample of channel `c` at (x, y).
  public subscript(c: Int, y: Int, x: Int) -> Float { pixels[(c * height + y) * width + x] }

  /// The region of `width`×`height` pixels whose top-left corner is (x, y).
  public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
    precondition(
      x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
      "crop \(w)×\(h) at (\(x), \(y)) does not fit a \(width)×\(height) image")
    var out = [Float](repeating: 0, count: 3 * w * h)
    for c in 0..<3 {
      for r in 0..<h {
        let src = (c * height + y + r) * width + x
        out.replaceSubrange((c * h + r) * w..<(c * h + r + 1) * w, with: pixels[src..<(src + w)])
      }
    }
    return Image(width: w, height: h, pixels: out)
  }

  /// Values quantised to 8 bits, as a generated image saved to a file would be (NaN becomes 0).
  public func quantized() -> Image {
    Image(width: width, height: height, pixels: pixels.map { Float(unitToByte($0)) / 255 })
  }

  /// The image as a plain [1, 3, H, W] tensor.
  public var tensor: Tensor { Tensor(pixels, shape: [1, 3, height, width]) }

  /// Images of one size stacked into a plain [N, 3, H, W] tensor.
  public static func batch(_ images: [Image]) -> Tensor {
    precondition(!images.isEmpty, "cannot batch zero images")
    let (w, h) = (images[0].width, images[0].height)
    precondition(images.allSatisfy { $0.width == w && $0.height == h }, "batched images must share one size")
    return Tensor(images.flatMap(\.pixels), shape: [images.count, 3, h, w])
  }

  /// Image `i` of a [N, 3, H, W] tensor.
  public init(_ tensor: Tensor, index i: Int = 0) {
    precondition(
      tensor.shape.rank == 4 && tensor.shape[1] == 3 && i < tensor.shape[0],
      "expected a [N, 3, H, W] tensor with N > \(i), got \(tensor.shape)")
    let one = tensor.batch(i..<(i + 1)).toLayout(.plain, differentiable: false)
    self.init(width: tensor.shape[3], height: tensor.shape[2], pixels: one.array)
  }

  /// Peak signal-to-noise ratio against `reference` in dB (samples in [0, 1]).
  public func psnr(against reference: Image) -> Double {
    precondition(
      width == reference.width && height == reference.height,
      "PSNR of a \(width)×\(height) image against a \(reference.width)×\(reference.height) one")
    var mse = 0.0
    for (a, b) in zip(pixels, reference.pixels) { mse += Double(a - b) * Double(a - b) }
    mse /= Double(pixels.count)
    return mse == 0 ? .infinity : 10 * log10(1 / mse)
  }
}

#if canImport(Glibc)
  import Glibc
#endif
