import Foundation

/// A progress line on standard error with rate and ETA: redrawn in place on a terminal, one line
/// per update otherwise (logs, CI), so long jobs always show where they are.
final class Progress {
  let total: Double
  let label: String
  private let start = Date()
  private let terminal = isatty(2) != 0
  private var done = 0.0

  /// `total` is in units of work (e.g. expected model cost), not necessarily items.
  init(total: Double, label: String) {
    self.total = max(total, 1e-9)
    self.label = label
  }

  var elapsed: TimeInterval { Date().timeIntervalSince(start) }

  /// Adds `work` units and prints `detail`.
  func advance(by work: Double, count: String, detail: String) {
    done += work
    guard !Log.muted else { return }
    let fraction = min(done / total, 1)
    let eta = fraction > 0 ? elapsed / fraction * (1 - fraction) : 0
    let width = 24
    let filled = Int((fraction * Double(width)).rounded(.down))
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    let line = String(
      format: "%@ %@ %@ %5.1f%%  %@  elapsed %@, ETA %@", label, bar, count, fraction * 100, detail,
      Self.clock(elapsed), Self.clock(eta))
    FileHandle.standardError.write(((terminal ? "\r\u{1B}[K" : "") + line + (terminal ? "" : "\n")).data(using: .utf8)!)
  }

  /// Ends the in-place line.
  func finish() {
    if terminal && !Log.muted { FileHandle.standardError.write("\n".data(using: .utf8)!) }
  }

  /// `1h02m`, `3m05s` or `42s`.
  static func clock(_ t: TimeInterval) -> String {
    // Int(_:) traps on NaN and infinities; an estimate from no progress is not worth a crash.
    guard t.isFinite, abs(t) < 1e9 else { return "?" }
    let s = Int(t.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
  }
}
