import ArgumentParser
import Foundation

/// `modelprint merge-results`: joins the parts of a sharded `identify --list` run into one file.
struct MergeResultsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge-results",
    abstract: "Join the results files of `identify --list --shard` runs, in list order.",
    discussion: """
      Orders the records by their list index and copies each line unchanged, so the merged file
      equals the file one unsharded run writes. Refuses an entry that two parts hold, a part that
      ends in an incomplete line (its shard is unfinished: rerun it, it resumes) and, with --list, a
      record whose path is not the list's or a list entry no part holds. Without --list only missing
      indices below the highest are found. Files are written atomically.
      """)

  @Argument(help: "Results files of the shards.") var parts: [String]
  @Option(help: "Merged JSON Lines file.") var out: String
  @Option(help: "Also a CSV table: index, path, status, top model, its score, threshold, error.") var csv: String?
  @Option(help: "The image list the shards ran on: check paths and report entries without a result.")
  var list: String?

  func validate() throws {
    guard !parts.isEmpty else { throw ValidationError("give the results files to merge") }
    let targets = [out] + (csv.map { [$0] } ?? [])
    for t in targets where parts.contains(where: { URL(fileURLWithPath: $0).path == URL(fileURLWithPath: t).path }) {
      throw ValidationError("\(t) is one of the parts; write the merge to a new file")
    }
    if csv == out { throw ValidationError("--csv and --out must be different files") }
  }

  func run() throws {
    let imageList = try list.map { try ImageList(path: $0) }
    var byIndex: [Int: (part: String, record: ResultRecord)] = [:]
    for part in parts {
      let file = try ResultsFile(contentsOf: URL(fileURLWithPath: part))
      if file.isTorn {
        throw InputError(
          "\(part) ends in an incomplete line: its shard was stopped while writing; "
            + "rerun that shard with the same flags (it resumes) and merge again")
      }
      for r in file.records {
        if let other = byIndex[r.index] {
          throw InputError(
            "entry \(r.index) (\(r.path)) is in \(other.part) line \(other.record.lineNumber) and in \(part) line "
              + "\(r.lineNumber): the parts overlap (a part given twice, or shards of different counts); "
              + "merge each shard's part once")
        }
        if let imageList {
          guard r.index < imageList.entries.count, imageList.entries[r.index].path == r.path else {
            throw InputError(
              "\(part) line \(r.lineNumber): entry \(r.index) (\(r.path)) is not that entry of \(imageList.url.path); "
                + "give the list the shards ran on")
          }
        }
        byIndex[r.index] = (part, r)
      }
    }
    let expected = imageList?.entries.count ?? ((byIndex.keys.max() ?? -1) + 1)
    let missing = (0..<expected).filter { byIndex[$0] == nil }
    if !missing.isEmpty {
      let shown = missing.prefix(5).map { i in imageList.map { "\(i) (\($0.entries[i].path))" } ?? "\(i)" }
      throw InputError(
        "\(missing.count) of \(expected) entries have no result (\(shown.joined(separator: ", "))"
          + "\(missing.count > 5 ? ", …" : "")): run the shards that own them (they resume) and merge again")
    }
    let records = byIndex.keys.sorted().map { byIndex[$0]!.record }
    var merged = Data()
    for r in records {
      merged.append(r.line)
      merged.append(UInt8(ascii: "\n"))
    }
    try write(merged, to: out)
    if let csv { try write(Data(ResultsTable.csv(records).utf8), to: csv) }
    let errors = records.filter { $0.object["error"] != nil }.count
    let unknown = records.filter { $0.object["unknown"] as? Bool == true }.count
    print(
      "merged \(records.count) results (\(unknown) unknown, \(errors) errors) from \(parts.count) parts into \(out)"
        + (csv.map { " and \($0)" } ?? ""))
  }

  private func write(_ data: Data, to path: String) throws {
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
      throw InputError("\(path): cannot write (\(error.localizedDescription)); check that its folder exists")
    }
  }
}

/// The CSV form of merged results: one row per entry with the top candidate, for spreadsheets.
enum ResultsTable {
  static func csv(_ records: [ResultRecord]) -> String {
    var text = "index,path,status,model,score,threshold,error\n"
    for r in records {
      let o = r.object
      let best = (o["candidates"] as? [[String: Any]])?.first
      let status = o["error"] != nil ? "error" : (o["unknown"] as? Bool == true ? "unknown" : "identified")
      let fields = [
        "\(r.index)", r.path, status, best?["model"] as? String ?? "", number(best?["score"]), number(o["threshold"]),
        o["error"] as? String ?? "",
      ]
      text += fields.map(quoted).joined(separator: ",") + "\n"
    }
    return text
  }

  /// Scores are Float values stored as JSON doubles; printed as Float, the digits are the value's own
  /// and not the last bits of a decimal round trip.
  private static func number(_ value: Any?) -> String { (value as? NSNumber).map { "\(Float($0.doubleValue))" } ?? "" }

  /// RFC 4180: a field with a comma, quote or line break is quoted, with quotes doubled.
  private static func quoted(_ field: String) -> String {
    guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
