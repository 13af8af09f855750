import Attribution
import Foundation
import Imaging
import Synthesis

/// `identify --list`: one shard of a batch attribution, written to a results file that survives being
/// killed at any moment and that a restart completes.
///
/// Shard i/n owns the list entries whose index mod n == i (strided, so every shard gets a like mix of
/// the list's folders). Each entry gets one JSON line: the identification as `identify --json` prints it
/// plus `index`, or `index`, `path` and `error` for a file that cannot be used. Lines are appended and
/// fsynced after every batch, so a kill leaves complete lines followed at most by one torn line, which a
/// restart cuts off before resuming with the entries the file does not hold yet.
struct BatchIdentify {
  let list: ImageList
  let shard: Shard
  let out: URL
  let embedder: Embedder
  let gallery: Gallery
  let top: Int
  /// Images between fsyncs: what a kill can cost in recomputation, against one fsync per image.
  let batch = 16

  func run() throws {
    let owned = list.entries.filter { shard.owns($0.index) }
    let done = try resume()
    let todo = owned.filter { !done.contains($0.index) }
    if !done.isEmpty { Log.info("\(out.path): \(done.count) of \(owned.count) results already there; resuming") }
    let handle = try FileHandle(forWritingTo: out)
    defer { try? handle.close() }
    try handle.seekToEnd()
    let progress = todo.count > batch ? Progress(total: Double(todo.count), label: "identify \(shard)") : nil
    let decoder = ImageDecoder()
    var errors = 0
    var warned = false
    for start in stride(from: 0, to: todo.count, by: batch) {
      let chunk = todo[start..<min(todo.count, start + batch)]
      var text = ""
      for entry in chunk {
        var object: [String: Any]
        let decoded = decoder.decodeAll([entry.url])
        if let image = decoded.images.first?.image {
          // One image per network call: an image's embedding then cannot depend on which other images
          // share its batch, so a sharded run's results equal the unsharded run's bit for bit.
          let r = try gallery.identify(embedder.embed([image])[0], top: top)
          object = identificationObject(path: entry.path, r)
          if r.threshold == nil && !warned {
            Log.info("the gallery is not calibrated, so no image is called unknown; run `modelprint calibrate`")
            warned = true
          }
        } else {
          let reason = decoded.failures.first.map { "\($0.error)" } ?? "\(entry.url.path): not decoded"
          Log.info("skipped \(reason)")
          object = ["path": entry.path, "error": reason]
          errors += 1
        }
        object["index"] = entry.index
        text += try jsonLine(object) + "\n"
      }
      try handle.write(contentsOf: Data(text.utf8))
      try handle.synchronize()
      progress?.advance(by: Double(chunk.count), count: "\(start + chunk.count)/\(todo.count)", detail: "images")
    }
    progress?.finish()
    Log.info(
      "shard \(shard) of \(list.url.path): \(owned.count) results in \(out.path) "
        + "(\(todo.count) new, \(errors) of them errors)")
  }

  /// Prepares `out` for appending and returns the indices it already holds: creates it when missing,
  /// cuts off a torn last line, and refuses a file whose records are not this shard's entries of this
  /// list (a wrong --out would otherwise be silently extended).
  private func resume() throws -> Set<Int> {
    guard FileManager.default.fileExists(atPath: out.path) else {
      guard FileManager.default.createFile(atPath: out.path, contents: nil) else {
        throw InputError("\(out.path): cannot create the results file; check that its folder exists and is writable")
      }
      return []
    }
    let file = try ResultsFile(contentsOf: out)
    var done = Set<Int>()
    for r in file.records {
      guard r.index < list.entries.count, shard.owns(r.index), list.entries[r.index].path == r.path else {
        throw InputError(
          "\(out.path) line \(r.lineNumber) holds entry \(r.index) (\(r.path)), which is not one of shard \(shard) "
            + "of \(list.url.path); it was written for another list or shard: give a new --out file")
      }
      guard done.insert(r.index).inserted else {
        throw InputError(
          "\(out.path) line \(r.lineNumber) repeats entry \(r.index) (\(r.path)); "
            + "the file was edited or written by two runs at once: give a new --out file")
      }
    }
    if file.isTorn {
      let handle = try FileHandle(forWritingTo: out)
      defer { try? handle.close() }
      try handle.truncate(atOffset: UInt64(file.completeBytes))
      try handle.synchronize()
      Log.info("\(out.path): dropped an incomplete last line (the run was stopped while writing it)")
    }
    return done
  }
}
