import Attribution
import Foundation

extension Exercise {
  /// The gallery file at `url` (SQLite), opened and read every way the commands read it, in their
  /// order; refusals are `GalleryError`s. The database is closed when this returns, so the caller may
  /// replace the file. Opening may switch the file to WAL and write beside it: pass a copy.
  public static func gallery(at url: URL) -> Outcome {
    Outcome.of(GalleryError.self) {
      let gallery = try Gallery(at: url, extractor: nil)
      _ = try gallery.models()
      _ = try gallery.calibration()
      let index = try gallery.index()
      let embeddings = try gallery.embeddings()
      if index.count > 0 { _ = try gallery.identify([Float](repeating: 1, count: index.dimension), top: 3) }
      if let e = embeddings.first { _ = try gallery.verify(e.embedding, e.embedding) }
      try gallery.recomputeFingerprints()
      _ = try gallery.index()
      return .accepted
    }
  }
}
