import Foundation

/// A line chart written as a standalone SVG: several named series over a shared x axis, axes with
/// ticks, a legend. Used for 1-D spectra and training curves.
public struct LineChart: Sendable {
  /// One named line.
  public struct Series: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public init(name: String, x: [Double], y: [Double]) {
      precondition(x.count == y.count, "series \(name): \(x.count) x values but \(y.count) y values")
      self.name = name
      self.x = x
      self.y = y
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  public var width = 1000.0
  public var height = 560.0

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
  }

  /// A qualitative palette (Tableau 10), cycled for more series.
  static let palette = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  ]

  /// "Nice" tick values covering [lo, hi]: multiples of 1, 2, 2.5 or 5 times a power of ten, each
  /// computed from its integer multiple (so 0.6 prints as 0.6, not 0.6000000000000001).
  static func ticks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
    guard hi > lo else { return [lo] }
    let raw = (hi - lo) / Double(count)
    let mag = pow(10, floor(log10(raw)))
    let mantissa = [1.0, 2, 2.5, 5, 10].first { $0 * mag >= raw } ?? 10
    let inverse = mag < 1 ? (1 / mag).rounded() : 1
    func value(_ k: Int) -> Double { mag < 1 ? Double(k) * mantissa / inverse : Double(k) * mantissa * mag }
    var k = Int((lo / (mantissa * mag)).rounded(.up))
    var out: [Double] = []
    while value(k) <= hi + mantissa * mag * 1e-9 {
      out.append(value(k))
      k += 1
    }
    return out
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }

  static func format(_ v: Double) -> String {
    abs(v) >= 1000 || (abs(v) < 0.01 && v != 0)
      ? String(format: "%.2g", v) : String(format: "%g", (v * 1000).rounded() / 1000)
  }

  /// The SVG document.
  public var svg: String {
    let points = series.flatMap { zip($0.x, $0.y).filter { $0.0.isFinite && $0.1.isFinite } }
    let xs = points.map(\.0)
    let ys = points.map(\.1)
    var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
    var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
    if x1 == x0 { x1 = x0 + 1 }
    if y1 == y0 { y1 = y0 + 1 }
    let pad = (y1 - y0) * 0.05
    y0 -= pad
    y1 += pad
    if x0 > 0 && x0 < (x1 - x0) * 0.1 { x0 = 0 }
    // The legend column is as wide as the longest name (about 7 px per character at 12 px).
    let legend = Double(series.map(\.name.count).max() ?? 0) * 7 + 50
    let (left, right, top, bottom) = (70.0, max(120, legend), 40.0, 55.0)
    let pw = width - left - right
    let ph = height - top - bottom
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
    func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
      viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(Self.escape(title))</text>

      """
    for t in Self.ticks(x0, x1) {
      s += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(top + ph)\" stroke=\"#eee\"/>"
      s += "<text x=\"\(px(t))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(Self.format(t))</text>\n"
    }
    for t in Self.ticks(y0, y1) {
      s += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + pw)\" y2=\"\(py(t))\" stroke=\"#eee\"/>"
      s += "<text x=\"\(left - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(Self.format(t))</text>\n"
    }
    s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
    s +=
      "<text transform=\"translate(18 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
    for (i, serie) in series.enumerated() {
      let color = Self.palette[i % Self.palette.count]
      let path = zip(serie.x, serie.y).filter { $0.0.isFinite && $0.1.isFinite }
        .map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
      s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
      let ly = top + 8 + Double(i) * 18
      s +=
        "<line x1=\"\(left + pw + 12)\" y1=\"\(ly)\" x2=\"\(left + pw + 32)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"3\"/>"
      s += "<text x=\"\(left + pw + 38)\" y=\"\(ly + 4)\">\(Self.escape(serie.name))</text>\n"
    }
    return s + "</svg>\n"
  }
}
