import Foundation

/// SVG figures of an evaluation report: embedding scatter, confusion matrix, similarity histograms and
/// per-model bars. Each returns a standalone SVG document.
public enum EvaluationFigures {
  static func header(_ width: Double, _ height: Double, _ title: String) -> String {
    """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
    viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(LineChart.escape(title))</text>

    """
  }

  static func color(_ i: Int) -> String {
    // Beyond the ten qualitative colours, hues spread around the wheel.
    i < LineChart.palette.count ? LineChart.palette[i] : "hsl(\((i * 137) % 360), 55%, 50%)"
  }

  /// Points coloured by label, with a legend of `names`.
  public static func scatter(
    _ points: [(x: Double, y: Double)], labels: [Int], names: [String], title: String
  ) -> String {
    precondition(points.count == labels.count, "scatter: \(points.count) points, \(labels.count) labels")
    let legend = Double(names.map(\.count).max() ?? 0) * 7 + 40
    let (width, height, margin) = (760 + legend, 640.0, 40.0)
    let plot = height - 2 * margin
    let xs = points.map(\.x)
    let ys = points.map(\.y)
    let (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
    let (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
    let span = max(x1 - x0, y1 - y0, 1e-12)
    var s = header(width, height, title)
    s += "<rect x=\"\(margin)\" y=\"\(margin)\" width=\"\(plot)\" height=\"\(plot)\" fill=\"none\" stroke=\"#333\"/>\n"
    for (p, l) in zip(points, labels) {
      let cx = margin + 8 + (p.x - x0) / span * (plot - 16)
      let cy = margin + 8 + (1 - (p.y - y0) / span) * (plot - 16)
      s += String(
        format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%@\" fill-opacity=\"0.8\"/>\n", cx, cy, color(l))
    }
    for (i, name) in names.enumerated() {
      let ly = margin + 10 + Double(i) * 18
      s += "<circle cx=\"\(margin + plot + 20)\" cy=\"\(ly)\" r=\"5\" fill=\"\(color(i))\"/>"
      s += "<text x=\"\(margin + plot + 32)\" y=\"\(ly + 4)\">\(LineChart.escape(name))</text>\n"
    }
    return s + "</svg>\n"
  }

  /// A confusion matrix (rows: true model, columns: predicted) with counts, shaded by row share.
  public static func confusion(_ counts: [[Int]], names: [String], title: String) -> String {
    let n = names.count
    precondition(counts.count == n && counts.allSatisfy { $0.count == n }, "confusion: \(n) names, counts not n × n")
    let cell = max(22.0, min(48, 560 / Double(max(n, 1))))
    let label = Double(names.map(\.count).max() ?? 0) * 6.5 + 16
    let (left, top) = (label + 20, 50 + label)
    // Column labels slant up and to the right (−60°), so the last one reaches half its length past its cell.
    let width = left + cell * Double(n) + max(30, label / 2)
    let height = top + cell * Double(n) + 40
    var s = header(width, height, title)
    for (i, name) in names.enumerated() {
      let y = top + (Double(i) + 0.5) * cell + 4
      s += "<text x=\"\(left - 6)\" y=\"\(y)\" text-anchor=\"end\">\(LineChart.escape(name))</text>\n"
      let x = left + (Double(i) + 0.5) * cell
      s +=
        "<text transform=\"translate(\(x + 4) \(top - 6)) rotate(-60)\">\(LineChart.escape(name))</text>\n"
    }
    for (i, row) in counts.enumerated() {
      let total = max(row.reduce(0, +), 1)
      for (j, c) in row.enumerated() {
        let share = Double(c) / Double(total)
        let x = left + Double(j) * cell
        let y = top + Double(i) * cell
        let shade = Int((1 - share) * 235 + 20)
        s +=
          "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#ccc\"/>"
        if c > 0 {
          s +=
            "<text x=\"\(x + cell / 2)\" y=\"\(y + cell / 2 + 4)\" text-anchor=\"middle\" fill=\"\(share > 0.5 ? "white" : "black")\">\(c)</text>"
        }
        s += "\n"
      }
    }
    s += "<text x=\"\(left + cell * Double(n) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">predicted</text>\n"
    return s + "</svg>\n"
  }

  /// Overlaid histograms of same-source and different-source similarity scores, with an optional
  /// threshold line.
  public static func histograms(
    same: [Double], different: [Double], threshold: Double? = nil, bins: Int = 40, title: String
  ) -> String {
    let all = same + different
    let lo = all.min() ?? 0
    let hi = max(all.max() ?? 1, lo + 1e-9)
    func counts(_ v: [Double]) -> [Double] {
      var c = [Double](repeating: 0, count: bins)
      for x in v { c[min(bins - 1, Int((x - lo) / (hi - lo) * Double(bins)))] += 1 }
      return c.map { $0 / Double(max(v.count, 1)) }
    }
    let cs = counts(same)
    let cd = counts(different)
    let top = max(cs.max() ?? 0, cd.max() ?? 0, 1e-12)
    let (width, height, left, right, upper, bottom) = (900.0, 480.0, 60.0, 180.0, 40.0, 50.0)
    let pw = width - left - right
    let ph = height - upper - bottom
    var s = header(width, height, title)
    for (series, color) in [(cd, "#e15759"), (cs, "#4e79a7")] {
      for (b, v) in series.enumerated() where v > 0 {
        let x = left + Double(b) / Double(bins) * pw
        let h = v / top * ph
        s += String(
          format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" fill-opacity=\"0.55\"/>\n",
          x, upper + ph - h, pw / Double(bins), h, color)
      }
    }
    s += "<rect x=\"\(left)\" y=\"\(upper)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
    for t in LineChart.ticks(lo, hi) {
      let x = left + (t - lo) / (hi - lo) * pw
      s += "<text x=\"\(x)\" y=\"\(upper + ph + 16)\" text-anchor=\"middle\">\(LineChart.format(t))</text>\n"
    }
    if let threshold, threshold >= lo, threshold <= hi {
      let x = left + (threshold - lo) / (hi - lo) * pw
      s +=
        "<line x1=\"\(x)\" y1=\"\(upper)\" x2=\"\(x)\" y2=\"\(upper + ph)\" stroke=\"#333\" stroke-dasharray=\"5,4\"/>\n"
      s += "<text x=\"\(x + 4)\" y=\"\(upper + 14)\">threshold \(LineChart.format(threshold))</text>\n"
    }
    s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">cosine similarity</text>\n"
    for (i, (name, color)) in [("same model", "#4e79a7"), ("different models", "#e15759")].enumerated() {
      let ly = upper + 10 + Double(i) * 20
      s +=
        "<rect x=\"\(left + pw + 14)\" y=\"\(ly - 8)\" width=\"14\" height=\"12\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
      s += "<text x=\"\(left + pw + 34)\" y=\"\(ly + 3)\">\(name)</text>\n"
    }
    return s + "</svg>\n"
  }

  /// Horizontal bars of one value in [0, 1] per name (per-model accuracy).
  public static func bars(_ values: [Double], names: [String], title: String) -> String {
    precondition(values.count == names.count, "bars: \(values.count) values, \(names.count) names")
    let label = Double(names.map(\.count).max() ?? 0) * 7 + 20
    let (row, left, top) = (24.0, label + 10, 44.0)
    let pw = 500.0
    let width = left + pw + 70
    let height = top + row * Double(names.count) + 30
    var s = header(width, height, title)
    for (i, (v, name)) in zip(values, names).enumerated() {
      let y = top + Double(i) * row
      s += "<text x=\"\(left - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(LineChart.escape(name))</text>"
      s += String(
        format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" fill=\"#4e79a7\"/>", left, y + 2,
        max(0, min(1, v)) * pw)
      s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n", left + max(0, min(1, v)) * pw + 6, y + 15, v)
    }
    return s + "</svg>\n"
  }
}

/// A self-contained HTML page: a title, tables and inline SVG figures, in order.
public struct HTMLReport: Sendable {
  public enum Block: Sendable {
    case heading(String)
    case paragraph(String)
    /// Header row and body rows of text cells.
    case table([String], [[String]])
    case figure(svg: String, caption: String)
  }

  public var title: String
  public var blocks: [Block] = []

  public init(title: String) { self.title = title }

  /// The page.
  public var html: String {
    var s = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(LineChart.escape(title))</title>
      <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
      table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
      th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}
      figcaption{color:#555;font-size:0.9em}svg{max-width:100%;height:auto}</style></head><body>
      <h1>\(LineChart.escape(title))</h1>

      """
    for block in blocks {
      switch block {
      case .heading(let h): s += "<h2>\(LineChart.escape(h))</h2>\n"
      case .paragraph(let p): s += "<p>\(LineChart.escape(p))</p>\n"
      case .table(let head, let rows):
        s += "<table><tr>" + head.map { "<th>\(LineChart.escape($0))</th>" }.joined() + "</tr>\n"
        for r in rows { s += "<tr>" + r.map { "<td>\(LineChart.escape($0))</td>" }.joined() + "</tr>\n" }
        s += "</table>\n"
      case .figure(let svg, let caption):
        s += "<figure>\(svg)<figcaption>\(LineChart.escape(caption))</figcaption></figure>\n"
      }
    }
    return s + "</body></html>\n"
  }
}
