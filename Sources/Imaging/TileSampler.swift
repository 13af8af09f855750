import Foundation
import Tensor

/// Random square tiles from a folder of real photographs, for training (denoiser, synthetic models,
/// extractor). Each photo is used at a few random downscales (area filter), and flat tiles (sky, blur:
/// luma standard deviation under `minimumStd`) are skipped, as they carry no texture for a
/// generator's fingerprint to show in.
public struct TileSampler: Sendable {
  /// Tile side in pixels.
  public var size: Int
  /// Downscale factors are drawn uniformly from this range (1 = full resolution).
  public var scaleRange: ClosedRange<Double>
  /// Scales drawn per photo.
  public var scalesPerPhoto: Int
  /// Tiles whose luma (BT.601) standard deviation is below this are skipped.
  public var minimumStd: Float

  public init(size: Int, scaleRange: ClosedRange<Double> = 1...4, scalesPerPhoto: Int = 4, minimumStd: Float = 8 / 255)
  {
    precondition(size > 0 && scalesPerPhoto > 0 && scaleRange.lowerBound >= 1, "invalid tile sampler settings")
    self.size = size
    self.scaleRange = scaleRange
    self.scalesPerPhoto = scalesPerPhoto
    self.minimumStd = minimumStd
  }

  /// The luma standard deviation of a region of `image`.
  static func lumaStd(_ image: Image, x: Int, y: Int, size: Int) -> Float {
    let plane = image.width * image.height
    var sum: Double = 0
    var sumSq: Double = 0
    for r in y..<(y + size) {
      for c in x..<(x + size) {
        let i = r * image.width + c
        let l =
          0.299 * Double(image.pixels[i]) + 0.587 * Double(image.pixels[plane + i]) + 0.114
          * Double(image.pixels[2 * plane + i])
        sum += l
        sumSq += l * l
      }
    }
    let n = Double(size * size)
    return Float(max(sumSq / n - (sum / n) * (sum / n), 0).squareRoot())
  }

  /// About `count` textured tiles spread evenly over `photos` (fewer when photos are too flat),
  /// shuffled with `rng`.
  public func tiles(from photos: [Image], count: Int, rng: inout RNG) -> [Image] {
    guard !photos.isEmpty, count > 0 else { return [] }
    let per = perPhoto(count: count, photos: photos.count)
    var out: [Image] = []
    for photo in photos { out += tiles(of: photo, count: per, rng: &rng) }
    Self.shuffle(&out, rng: &rng)
    return Array(out.prefix(count))
  }

  /// Tiles to cut from each of `photos` photos so that about `count` tiles come out in all.
  public func perPhoto(count: Int, photos: Int) -> Int {
    Int((Double(count) / Double(max(photos, 1) * scalesPerPhoto)).rounded(.up))
  }

  /// Up to `count` textured tiles from each of `scalesPerPhoto` random downscales of one photo, so
  /// callers can decode photos one at a time.
  public func tiles(of photo: Image, count per: Int, rng: inout RNG) -> [Image] {
    var out: [Image] = []
    for _ in 0..<scalesPerPhoto {
      let f = Double(rng.uniform(Float(scaleRange.lowerBound), Float(scaleRange.upperBound)))
      let w = max(size, Int(Double(photo.width) / f))
      let h = max(size, Int(Double(photo.height) / f))
      let scaled = photo.resized(width: w, height: h, filter: .area)
      var got = 0
      var tries = 0
      while got < per && tries < per * 20 {
        tries += 1
        let x = rng.int(w - size + 1)
        let y = rng.int(h - size + 1)
        guard Self.lumaStd(scaled, x: x, y: y, size: size) >= minimumStd else { continue }
        out.append(scaled.cropped(x: x, y: y, width: size, height: size))
        got += 1
      }
    }
    return out
  }

  /// Fisher–Yates shuffle driven by `rng`.
  public static func shuffle<T>(_ items: inout [T], rng: inout RNG) {
    for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, rng.int(i + 1)) }
  }
}
