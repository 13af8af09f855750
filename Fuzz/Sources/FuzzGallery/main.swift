// libFuzzer target for the gallery file: each input is written to a fresh temporary file, which
// `Exercise.gallery` opens and reads.

import Foundation
import FuzzDriver
import FuzzEntryPoints

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelprint-fuzz-gallery-\(getpid())")

fuzz { bytes in
  // A fresh folder each time: SQLite leaves -wal and -shm files beside the gallery.
  try? FileManager.default.removeItem(at: directory)
  try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let url = directory.appendingPathComponent("gallery.sqlite")
  try! bytes.write(to: url)
  return [Exercise.gallery(at: url)]
}
