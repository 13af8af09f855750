import Attribution
import Evaluation
import Fingerprint
import Foundation
import Imaging

/// The attribution work behind the HTTP routes: one extractor, one gallery, the inference queue.
public final class AttributionService: @unchecked Sendable {
  public let configuration: ServiceConfiguration
  /// The extractor's identity; the gallery and every imported pack must share it.
  public let identity: ExtractorIdentity
  let extractor: Extractor
  let gallery: Gallery
  let queue: InferenceQueue
  let metrics = ServiceMetrics()
  /// Gallery writes, one at a time: SQLite serialises them anyway, and the index cache is rebuilt after.
  private let writes = NSLock()

  /// A service over `gallery` (created for `identity` when missing, in the gallery metric when the
  /// extractor is whitened), embedding with `extractor`.
  public init(
    extractor: Extractor, identity: ExtractorIdentity, gallery: URL, configuration: ServiceConfiguration
  ) throws {
    self.configuration = configuration
    self.identity = identity
    self.extractor = extractor
    self.gallery = try Gallery(at: gallery, extractor: identity, metric: .default(for: extractor))
    queue = InferenceQueue(extractor: extractor, configuration: configuration, metrics: metrics)
  }

  /// Stops the inference workers (after the requests already queued).
  public func shutdown() { queue.stop() }

  func embed(_ data: Data, name: String, spectra: Bool = false, isGone: @escaping @Sendable () -> Bool = { false })
    async throws -> EmbeddedImage
  {
    try await queue.embed(data, name: name, spectra: spectra, isGone: isGone)
  }

  func identify(_ embedding: [Float], top: Int) throws -> Identification {
    try gallery.identify(embedding, top: top)
  }

  func verify(_ a: [Float], _ b: [Float]) throws -> Verification { try gallery.verify(a, b) }

  func models() throws -> [GalleryModel] { try gallery.models() }

  func calibration() throws -> Calibration? { try gallery.calibration() }

  func explain(_ image: EmbeddedImage, model: String, bands: Int) throws -> Explanation {
    try Explanation(image: image.spectra!, model: model, models: try gallery.spectra(), bands: bands)
  }

  func enroll(model: String, notes: String?, images: [(path: String, image: EmbeddedImage)]) throws -> GalleryModel {
    let spectra = images.compactMap(\.image.spectra).reduce(nil as ResidualSpectra?) { $0?.adding($1) ?? $1 }
    return try locked {
      try gallery.enroll(
        model: model, notes: notes, images: images.map { ($0.path, $0.image.embedding) }, spectra: spectra)
    }
  }

  func remove(model: String) throws -> GalleryModel { try locked { try gallery.remove(model: model) } }

  func calibrate() throws -> Calibration { try locked { try gallery.calibrate() } }

  func export() throws -> Data { try FingerprintPack(gallery: gallery).encoded() }

  func importPack(_ data: Data) throws -> [GalleryModel] {
    let pack = try FingerprintPack.decode(data, name: "the uploaded pack")
    return try locked { try pack.importInto(gallery, name: "the uploaded pack") }
  }

  private func locked<T>(_ body: () throws -> T) throws -> T {
    writes.lock()
    defer { writes.unlock() }
    return try body()
  }
}
