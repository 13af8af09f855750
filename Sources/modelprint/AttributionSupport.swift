import ArgumentParser
import Attribution
import Fingerprint
import Foundation
import Imaging
import NN

/// The files ModelPrint ships, relative to a resource root (see `ResourceLocator` for where those are).
enum Shipped {
  /// The extractor `--extractor` defaults to when not given and no gallery records one.
  static let extractor = "models/extractor.safetensors"
  /// The learned denoiser `--residual denoiser` defaults to.
  static let denoiser = "weights/denoiser-dncnn-10x32.safetensors"
  /// The demo's folder of model folders.
  static let demo = "data/demo"

  /// `explicit` as given when there is one, else the shipped `resource` wherever it is installed.
  static func path(_ explicit: String?, default resource: String) throws -> String {
    if let explicit { return explicit }
    return try ResourceLocator.process.locate(resource).path
  }
}

/// Something that turns images into embeddings: the trained extractor or a hand-crafted baseline.
struct Embedder {
  /// What the embeddings come from; galleries refuse embeddings of another identity.
  let identity: ExtractorIdentity
  /// A short name for tables and logs.
  let name: String
  let embed: ([Image]) -> [[Float]]
  /// One image's residual spectra over the extractor's windows (for explanations); nil for baselines.
  var spectra: ((Image) -> ResidualSpectra)? = nil
  /// The 1:N metric of a gallery created for these embeddings: adapted to the gallery only when they are
  /// whitened on synthetic models (the adaptation's prior), else the plain cosine.
  var metric: GalleryMetric = .synthetic

  /// The extractor checkpoint at `path` (`grid` × `grid` windows per image).
  static func extractor(at path: String, grid: Int = Extractor.defaultGrid) throws -> Embedder {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw InputError(
        "\(path): no extractor checkpoint there; pass --extractor CKPT (a checkpoint written by `modelprint train`)")
    }
    let ex = try Extractor.load(from: url)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let settings = String(decoding: try encoder.encode(ex.input), as: UTF8.self)
    let identity = ExtractorIdentity(
      sha256: try SHA256.hex(contentsOf: url), settings: settings, path: url.standardizedFileURL.path)
    return Embedder(
      identity: identity, name: "modelprint", embed: { ex.embed(images: $0, grid: grid) },
      spectra: { ResidualSpectra.of($0, input: ex.input, grid: grid) },
      metric: .default(for: ex))
  }

  /// A hand-crafted baseline; its identity is the hash of its settings.
  static func baseline(_ method: Baseline) -> Embedder {
    let settings = method.settings()
    return Embedder(
      identity: ExtractorIdentity(sha256: SHA256.hex(Array(settings.utf8)), settings: settings), name: method.rawValue
    ) { images in images.map { method.embed($0) } }
  }

  /// The extractor for a command on `gallery`: `--extractor` when given, else the one the gallery
  /// recorded (when that file still exists), else the shipped one.
  static func resolve(explicit: String?, gallery: URL?) throws -> Embedder {
    if let explicit { return try extractor(at: explicit) }
    if let gallery, let recorded = try Gallery.recordedExtractor(at: gallery)?.path,
      FileManager.default.fileExists(atPath: recorded)
    {
      return try extractor(at: recorded)
    }
    return try extractor(at: Shipped.path(nil, default: Shipped.extractor))
  }

  /// Embeddings of image files, decoded (then perturbed, when `perturbation` is given) and embedded in
  /// batches with a progress line. A file that fails to decode or to perturb is reported and skipped; the
  /// rest go on. `decoded` sees each batch of images that was embedded.
  func embed(
    files: [URL], label: String, batch: Int = 16, perturbation: Perturbation? = nil,
    decoded seen: ([Image]) -> Void = { _ in }
  ) -> (embedded: [(url: URL, embedding: [Float])], failed: Int) {
    let progress = files.count > batch ? Progress(total: Double(files.count), label: label) : nil
    let decoder = ImageDecoder()
    var out: [(URL, [Float])] = []
    var failed = 0
    for start in stride(from: 0, to: files.count, by: batch) {
      let chunk = Array(files[start..<min(files.count, start + batch)])
      let decoded = decoder.decodeAll(chunk)
      for f in decoded.failures { Log.info("skipped \(f.error)") }
      failed += decoded.failures.count
      var ready = decoded.images
      if let perturbation {
        ready = ready.compactMap { item in
          do {
            return (url: item.url, image: try perturbation.apply(item.image))
          } catch {
            Log.info("skipped \(item.url.path): \(perturbation) failed (\(error))")
            failed += 1
            return nil
          }
        }
      }
      if !ready.isEmpty {
        seen(ready.map(\.image))
        let e = embed(ready.map(\.image))
        out += zip(ready.map(\.url), e).map { ($0, $1) }
      }
      progress?.advance(by: Double(chunk.count), count: "\(start + chunk.count)/\(files.count)", detail: "images")
    }
    progress?.finish()
    return (out, failed)
  }
}

/// The most embedding windows per side a command accepts: each image costs N² network passes, so a
/// mistyped 300 would run for days.
let maxWindowsPerSide = 16

/// A problem with the files a command was given, found after parsing (so no usage text follows it).
struct InputError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Image files named on a command line (folders expanded); an empty result is an error.
func imageFiles(_ paths: [String]) throws -> [URL] {
  let files = try ImageFiles.collect(paths)
  guard !files.isEmpty else {
    throw InputError(
      "no image files (.jpg, .jpeg, .png, .webp, or a JPEG, PNG or WebP by content) in \(paths.joined(separator: ", ")); "
        + "give image files or folders holding them")
  }
  return files
}

/// Scores as printed in tables.
func formatScore(_ x: Float) -> String { String(format: "%.4f", x) }

/// A JSON value as one line.
func jsonLine(_ object: Any) throws -> String {
  String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

extension GalleryMetric: ExpressibleByArgument {}
extension Safetensors.Storage: ExpressibleByArgument {}
