import Foundation

/// Image files on disk: folder-per-model datasets (`ROOT/<model>/<image>`) and lists of files or
/// folders from the command line. Files are recognised by extension (case-insensitive: .jpg, .jpeg,
/// .png, .webp) or, for any other name (none, or a wrong one), by the signature of their first bytes, as
/// the decoder recognises formats; hidden files are skipped, and everything is sorted so runs are
/// reproducible.
public enum ImageFiles {
  /// The extensions treated as images.
  public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

  static func isImageName(_ name: String) -> Bool {
    !name.hasPrefix(".") && extensions.contains((name as NSString).pathExtension.lowercased())
  }

  /// Whether the regular file at `url` starts with a signature the decoder recognises (12 bytes read).
  static func hasImageSignature(_ url: URL) -> Bool {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 12) else { return false }
    return ImageFormat.sniff(head) != nil
  }

  /// Image files directly inside `folder` (`recursive` to descend), sorted by path. Entries with an
  /// image extension that are not regular files (a directory named `x.jpg`) are kept, so that
  /// decoding reports them instead of silently skipping them.
  public static func list(_ folder: URL, recursive: Bool = false) throws -> [URL] {
    var visited: Set<String> = []
    return try list(folder, recursive: recursive, visited: &visited)
  }

  /// ``list(_:recursive:)``, entering each real folder once: a symbolic link to a folder above would
  /// otherwise recurse without end.
  private static func list(_ folder: URL, recursive: Bool, visited: inout Set<String>) throws -> [URL] {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: folder.path, isDirectory: &isDir) else {
      throw ImageError.unreadable(path: folder.path, reason: "no such file or folder")
    }
    // A file named explicitly is kept whatever its name: decoding says what is wrong with it.
    guard isDir.boolValue else { return [folder] }
    guard visited.insert(folder.resolvingSymlinksInPath().path).inserted else { return [] }
    let names: [String]
    do { names = try fm.contentsOfDirectory(atPath: folder.path) } catch {
      throw ImageError.unreadable(path: folder.path, reason: (error as NSError).localizedDescription)
    }
    var out: [URL] = []
    for name in names.sorted() where !name.hasPrefix(".") {
      let url = folder.appendingPathComponent(name)
      var sub: ObjCBool = false
      _ = fm.fileExists(atPath: url.path, isDirectory: &sub)
      if isImageName(name) {
        out.append(url)
      } else if sub.boolValue {
        if recursive { out += try list(url, recursive: true, visited: &visited) }
      } else if hasImageSignature(url) || unopenableReason(url) != nil {
        // Kept when it cannot even be opened (a dangling link, a name that is not UTF-8), so that decoding
        // reports it instead of the walk dropping it without a word.
        out.append(url)
      }
    }
    return out.sorted { $0.path < $1.path }
  }

  /// Files named on a command line: image files as given, folders expanded recursively.
  public static func collect(_ paths: [String]) throws -> [URL] {
    try paths.flatMap { try list(URL(fileURLWithPath: $0), recursive: true) }
  }

  /// A folder-per-model dataset: every subfolder of `root` (sorted) with its images (recursive).
  /// Subfolders without images are left out.
  public static func models(in root: URL) throws -> [(name: String, files: [URL])] {
    let fm = FileManager.default
    let names: [String]
    do { names = try fm.contentsOfDirectory(atPath: root.path) } catch {
      throw ImageError.unreadable(path: root.path, reason: "not a folder of model folders")
    }
    var out: [(String, [URL])] = []
    for name in names.sorted() where !name.hasPrefix(".") {
      let url = root.appendingPathComponent(name)
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue,
        !isImageName(name)
      else { continue }
      let files = try list(url, recursive: true)
      if !files.isEmpty { out.append((name, files)) }
    }
    return out
  }

  /// Why `url` cannot be opened at all, when the reason lies in its name rather than its bytes: a name
  /// that is not UTF-8 (Foundation lists it with U+FFFD, a path that no longer names the file), or a
  /// symbolic link that leads nowhere (a loop, or a missing target). Nil otherwise.
  public static func unopenableReason(_ url: URL) -> String? {
    let fm = FileManager.default
    guard !fm.fileExists(atPath: url.path) else { return nil }
    if url.lastPathComponent.contains("\u{FFFD}") {
      return "the file name is not valid UTF-8, so it cannot be opened by name; rename the file"
    }
    if let target = try? fm.destinationOfSymbolicLink(atPath: url.path) {
      return "a symbolic link to '\(target)' that leads nowhere (a loop or a missing file); fix or remove the link"
    }
    return nil
  }
}

/// The outcome of decoding a batch: one bad file never stops the batch.
public struct DecodedBatch: Sendable {
  /// Successfully decoded images, in input order.
  public var images: [(url: URL, image: Image)] = []
  /// Files that could not be used, with why.
  public var failures: [(url: URL, error: ImageError)] = []
}

extension ImageDecoder {
  /// Decodes every file; failures are collected, not thrown.
  public func decodeAll(_ urls: [URL]) -> DecodedBatch {
    var batch = DecodedBatch()
    for url in urls {
      if let reason = ImageFiles.unopenableReason(url) {
        batch.failures.append((url, .unreadable(path: url.path, reason: reason)))
        continue
      }
      do { batch.images.append((url, try decode(contentsOf: url))) } catch let e as ImageError {
        batch.failures.append((url, e))
      } catch {
        batch.failures.append((url, .unreadable(path: url.path, reason: "\(error)")))
      }
    }
    return batch
  }
}
