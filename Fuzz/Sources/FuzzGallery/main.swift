// libFuzzer entry point for the gallery file (SQLite through GRDB): the bytes are written to a fresh
// temporary file, opened, and read the ways the commands read it. Every input must work or throw a
// GalleryError.

import Attribution
import CFuzzer
import Foundation

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelprint-fuzz-gallery-\(getpid())")

/// Opens the gallery and reads it as the commands do; the database closes when this returns, before the
/// next input replaces the file.
func exercise(_ url: URL) throws {
  let gallery = try Gallery(at: url, extractor: nil)
  _ = try gallery.models()
  _ = try gallery.calibration()
  let index = try gallery.index()
  let embeddings = try gallery.embeddings()
  if index.count > 0 { _ = try gallery.identify([Float](repeating: 1, count: index.dimension), top: 3) }
  if let e = embeddings.first { _ = try gallery.verify(e.embedding, e.embedding) }
  try gallery.recomputeFingerprints()
}

func fuzzGallery(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  try? FileManager.default.removeItem(at: directory)
  try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let url = directory.appendingPathComponent("gallery.sqlite")
  try! Data(bytes: bytes, count: count).write(to: url)
  do { try exercise(url) } catch is GalleryError {
  } catch {
    fatalError("untyped error \(error)")
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in bytes.map { fuzzGallery($0, count) } ?? 0 })
