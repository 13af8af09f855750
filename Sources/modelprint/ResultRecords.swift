import Attribution
import Foundation

/// The JSON object `identify` prints for one identified image (`--json`, and each line of `--list` runs).
func identificationObject(path: String, _ r: Identification) -> [String: Any] {
  var object: [String: Any] = [
    "path": path, "unknown": r.isUnknown,
    "candidates": r.candidates.map { ["model": $0.model, "score": Double($0.score)] },
  ]
  if let t = r.threshold { object["threshold"] = Double(t) }
  if let o = r.openSetScore { object["open_set_score"] = Double(o) }
  return object
}

/// One line of a batch-attribution results file: an image's identification or the reason it has none.
struct ResultRecord {
  /// The image's ``ImageList/Entry/index``.
  let index: Int
  let path: String
  /// The parsed object, for tables.
  let object: [String: Any]
  /// The line's bytes without its newline, copied verbatim when parts are merged so that a merge
  /// changes no result.
  let line: Data
  /// 1-based line number in its file, for messages.
  let lineNumber: Int
}

/// A results file (JSON Lines, one ``ResultRecord`` a line) as read back.
struct ResultsFile {
  let records: [ResultRecord]
  /// Bytes of complete lines; anything after them is an incomplete last line (a write cut short).
  let completeBytes: Int
  /// Whether an incomplete last line follows the complete ones.
  var isTorn: Bool { completeBytes < size }
  let size: Int

  /// Reads `url`. A complete line that is not a result record is an `InputError`: the file is not one
  /// that `identify --list` wrote, and nothing may overwrite or merge it.
  init(contentsOf url: URL) throws {
    guard isRegularFile(url), let data = FileManager.default.contents(atPath: url.path) else {
      throw InputError("\(url.path): cannot read the results file (missing, not a plain file, or unreadable)")
    }
    size = data.count
    let newline = UInt8(ascii: "\n")
    var records: [ResultRecord] = []
    var start = data.startIndex
    var number = 0
    while let end = data[start...].firstIndex(of: newline) {
      number += 1
      let line = Data(data[start..<end])
      guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
        let index = object["index"] as? Int, index >= 0, let path = object["path"] as? String,
        object["candidates"] is [Any] || object["error"] is String
      else {
        throw InputError(
          "\(url.path) line \(number) is not a result of `modelprint identify --list`; "
            + "give a results file that command wrote (or a new --out file)")
      }
      records.append(ResultRecord(index: index, path: path, object: object, line: line, lineNumber: number))
      start = end + 1
    }
    self.records = records
    completeBytes = start - data.startIndex
  }
}
