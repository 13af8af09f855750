import Foundation

/// A list of image files for batch attribution (`identify --list`, `merge-results --list`): one path per
/// line; blank lines and lines starting with `#` are ignored, white space around a path is removed, and a
/// relative path is relative to the list file's folder (so a list and its images can move together and a
/// job's working folder does not matter).
struct ImageList {
  /// One image of the list.
  struct Entry {
    /// 0-based position among the list's entries (blank and comment lines not counted): a result's
    /// `index`, which orders merged results and assigns entries to shards.
    let index: Int
    /// The path as written in the list; results repeat it verbatim.
    let path: String
    /// Where the file is: the path resolved against the list's folder.
    let url: URL
  }

  let url: URL
  let entries: [Entry]

  /// Reads the list at `path`; a missing, unreadable, non-UTF-8 or empty list is an `InputError`.
  init(path: String) throws {
    url = URL(fileURLWithPath: path)
    guard isRegularFile(url), let data = FileManager.default.contents(atPath: url.path) else {
      throw InputError("\(path): cannot read the image list; give a text file with one image path per line")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw InputError("\(path): the image list is not UTF-8 text; give a text file with one image path per line")
    }
    let folder = url.deletingLastPathComponent()
    var entries: [Entry] = []
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let file = line.hasPrefix("/") ? URL(fileURLWithPath: line) : folder.appendingPathComponent(line)
      entries.append(Entry(index: entries.count, path: line, url: file))
    }
    guard !entries.isEmpty else {
      throw InputError("\(path): the image list names no files (only blank or # lines); add one image path per line")
    }
    self.entries = entries
  }
}

/// Whether `url` is a plain file (after links): a folder, a device or a pipe given as a list or results
/// file would fail to read or, like /dev/zero, never end.
func isRegularFile(_ url: URL) -> Bool {
  (try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)[.type] as? FileAttributeType)
    == .typeRegular
}
