import Imaging

/// A 2-D array of values rendered as an image with a perceptual colour map (viridis), scaled between
/// given bounds or the data's own 1st and 99th percentiles (so a DC spike does not flatten the rest).
public struct Heatmap: Sendable {
  public var width: Int
  public var height: Int
  /// Row-major values.
  public var values: [Float]

  public init(width: Int, height: Int, values: [Float]) {
    precondition(values.count == width * height, "\(values.count) values for a \(width)×\(height) heatmap")
    self.width = width
    self.height = height
    self.values = values
  }

  /// Viridis anchor colours (matplotlib), interpolated linearly.
  static let viridis: [(Float, Float, Float)] = [
    (0.267, 0.005, 0.329), (0.283, 0.141, 0.458), (0.254, 0.265, 0.530), (0.207, 0.372, 0.553),
    (0.164, 0.471, 0.558), (0.128, 0.567, 0.551), (0.135, 0.659, 0.518), (0.267, 0.749, 0.441),
    (0.478, 0.821, 0.318), (0.741, 0.873, 0.150), (0.993, 0.906, 0.144),
  ]

  static func color(_ t: Float) -> (Float, Float, Float) {
    let u = min(max(t, 0), 1) * Float(viridis.count - 1)
    let i = min(Int(u), viridis.count - 2)
    let f = u - Float(i)
    let (a, b) = (viridis[i], viridis[i + 1])
    return (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1), a.2 + f * (b.2 - a.2))
  }

  /// The value at quantile `q` (0…1).
  func quantile(_ q: Double) -> Float {
    let sorted = values.filter(\.isFinite).sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(q * Double(sorted.count - 1)))]
  }

  /// The heatmap as an RGB image.
  public func image(low: Float? = nil, high: Float? = nil) -> Image {
    let lo = low ?? quantile(0.01)
    var hi = high ?? quantile(0.99)
    if hi <= lo { hi = lo + 1 }
    let plane = width * height
    var px = [Float](repeating: 0, count: 3 * plane)
    for i in 0..<plane {
      let (r, g, b) = Self.color((values[i] - lo) / (hi - lo))
      px[i] = r
      px[plane + i] = g
      px[2 * plane + i] = b
    }
    return Image(width: width, height: height, pixels: px)
  }
}
