import Imaging

/// A grid of images on a white background, row by row, for looking at many models' outputs at once.
public enum ContactSheet {
  /// Lays out `rows` (each a list of images, any sizes) with `gap` pixels between cells; cells are
  /// top-left aligned in columns as wide as their widest image.
  public static func make(_ rows: [[Image]], gap: Int = 4) -> Image {
    let columns = rows.map(\.count).max() ?? 0
    guard columns > 0 else { return Image(width: 1, height: 1, pixels: [1, 1, 1]) }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (c, img) in row.enumerated() { widths[c] = max(widths[c], img.width) } }
    let heights = rows.map { $0.map(\.height).max() ?? 0 }
    let w = widths.reduce(0, +) + gap * (columns + 1)
    let h = heights.reduce(0, +) + gap * (rows.count + 1)
    var pixels = [Float](repeating: 1, count: 3 * w * h)
    var y0 = gap
    for (r, row) in rows.enumerated() {
      var x0 = gap
      for (c, img) in row.enumerated() {
        for ch in 0..<3 {
          for y in 0..<img.height {
            for x in 0..<img.width {
              pixels[(ch * h + y0 + y) * w + x0 + x] = img.pixels[(ch * img.height + y) * img.width + x]
            }
          }
        }
        x0 += widths[c] + gap
      }
      y0 += heights[r] + gap
    }
    return Image(width: w, height: h, pixels: pixels)
  }
}
