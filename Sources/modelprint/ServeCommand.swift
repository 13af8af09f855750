import ArgumentParser
import Attribution
import Fingerprint
import Foundation
import Hummingbird
import Service

/// `modelprint serve`: the attribution service over HTTP with its web page.
struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Serve attribution over HTTP: a JSON API under /v1, /metrics, /healthz and a web page at /.",
    discussion: """
      Binds to loopback unless --host says otherwise. Reads (identify, verify, embed, explain, models,
      export) need nothing; writes (enroll, remove, calibrate, import) need the token of --token-file
      as `Authorization: Bearer TOKEN`. Without --token-file a random token is made and printed on
      standard error. Concurrent requests are embedded together, one forward pass per thread (micro-batching);
      beyond --queue waiting requests the server answers 503 with Retry-After. The API is described in
      docs/api.md and at /openapi.json.
      """)

  @Option(help: "Gallery file (created for the extractor when missing).") var gallery = "gallery.sqlite"
  @Option(help: "Extractor checkpoint (default: the gallery's, else the shipped \(Shipped.extractor)).")
  var extractor: String?
  /// The service's own defaults, which the flags' defaults are read from so that the two cannot drift.
  private static let defaults = ServiceConfiguration(token: "")

  @Option(help: "Interface to listen on (0.0.0.0 for every interface).") var host = ServeCommand.defaults.host
  @Option(help: "TCP port.") var port = ServeCommand.defaults.port
  @Option(help: "A file holding the bearer token for writes (its first line).") var tokenFile: String?
  @Option(help: "Inference worker threads.") var workers = ServeCommand.defaults.workers
  @Option(help: "Requests that may wait for a worker before 503.") var queue = ServeCommand.defaults.queueCapacity
  @Option(help: "Most images a worker takes at once; several are shared out as one forward pass per thread.")
  var batch = ServeCommand.defaults.maxBatchImages
  @Option(help: "Milliseconds a worker waits for more requests to join a batch.")
  var batchWait = Int(ServeCommand.defaults.batchWait / .milliseconds(1))
  @Option(help: "Largest image upload in bytes (413 beyond).") var maxBody = ServeCommand.defaults.maxBodyBytes
  @Option(help: "Largest image in pixels (422 beyond: the decoder's bomb guard).")
  var maxPixels = ServeCommand.defaults.maxPixels
  @OptionGroup var common: CommonOptions

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
    guard (1...64).contains(workers) else { throw ValidationError("--workers must be in 1...64, got \(workers)") }
    guard (1...100_000).contains(queue) else { throw ValidationError("--queue must be in 1...100000, got \(queue)") }
    guard (1...256).contains(batch) else { throw ValidationError("--batch must be in 1...256, got \(batch)") }
    guard (0...1000).contains(batchWait) else {
      throw ValidationError("--batch-wait must be in 0...1000 ms, got \(batchWait)")
    }
    guard maxBody >= 1024 else { throw ValidationError("--max-body must be at least 1024 bytes, got \(maxBody)") }
    guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be positive, got \(maxPixels)") }
  }

  func run() async throws {
    try common.apply()
    let token: String
    if let tokenFile {
      guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8),
        let line = text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
        !line.isEmpty
      else { throw InputError("\(tokenFile): cannot read a token from it; put the token on its first line") }
      token = line
    } else {
      var rng = SystemRandomNumberGenerator()
      token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
      Log.info("no --token-file: writes need this token: \(token)")
    }
    var config = ServiceConfiguration(token: token)
    config.host = host
    config.port = port
    config.workers = workers
    config.queueCapacity = queue
    config.maxBatchImages = batch
    config.batchWait = .milliseconds(batchWait)
    config.maxBodyBytes = maxBody
    config.maxPixels = maxPixels
    config.webRoot = try? ResourceLocator.process.locate("web/index.html").deletingLastPathComponent()
    if config.webRoot == nil { Log.info("web/ not found beside modelprint: the web page is not served") }
    let url = URL(fileURLWithPath: gallery)
    let (ex, identity) = try loadExtractor(explicit: extractor, gallery: url)
    let service = try AttributionService(extractor: ex, identity: identity, gallery: url, configuration: config)
    Log.info("serving \(gallery) on http://\(host):\(port) with \(workers) inference worker(s)")
    try await makeApplication(service).runService()
    service.shutdown()
  }
}

/// The extractor for a command on `gallery` as ``Embedder/resolve(explicit:gallery:)`` picks it, loaded.
func loadExtractor(explicit: String?, gallery: URL) throws -> (Extractor, ExtractorIdentity) {
  let embedder = try Embedder.resolve(explicit: explicit, gallery: gallery)
  guard let path = embedder.identity.path else { throw InputError("the extractor has no file to load") }
  return (try Extractor.load(from: URL(fileURLWithPath: path)), embedder.identity)
}
