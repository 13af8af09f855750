// The HTTP API (docs/api.md, web/openapi.json): versioned JSON routes under /v1, health, metrics, and the
// web page's files. Every error is a JSON body {"error": {"status", "message"}} with the status the
// client's request deserves (ServiceError.from); writes need the bearer token, checked before the body is
// read, and bodies are read up to a limit, so an unauthorised or oversized upload costs nothing.

import Attribution
import Foundation
import Hummingbird
import Imaging
import NIOCore

/// The request context of the service: Hummingbird's basic one plus the request's connection, so that
/// a queued request whose client has gone is dropped instead of computed.
public struct ServiceRequestContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  let channel: any Channel

  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    channel = source.channel
  }

  /// Whether the client has gone, as the connection's ``ConnectionWatcher`` sees it (never, on a
  /// channel without one, as in the in-process tests).
  func isGone() async -> @Sendable () -> Bool {
    guard let watcher = try? await channel.pipeline.handler(type: ConnectionWatcher.self).get() else {
      return { false }
    }
    return { watcher.isClosed }
  }
}

/// The router of a service: every route, with errors and metrics handled by one middleware.
public func makeRouter(_ service: AttributionService) -> Router<ServiceRequestContext> {
  let router = Router(context: ServiceRequestContext.self)
  router.middlewares.add(ServiceMiddleware(metrics: service.metrics))
  let api = ServiceRoutes(service: service)
  router.get("/healthz") { _, _ in try api.health() }
  router.get("/metrics") { _, _ in api.metrics() }
  router.post("/v1/identify") { request, context in try await api.identify(request, context) }
  router.post("/v1/verify") { request, context in try await api.verify(request, context) }
  router.post("/v1/embed") { request, context in try await api.embed(request, context) }
  router.post("/v1/explain") { request, context in try await api.explain(request, context) }
  router.get("/v1/models") { _, _ in try api.models() }
  router.post("/v1/models/:name/images") { request, context in
    try await api.enroll(request, context, name: try api.name(context))
  }
  router.delete("/v1/models/:name") { request, context in try api.remove(request, name: try api.name(context)) }
  router.post("/v1/calibrate") { request, _ in try api.calibrate(request) }
  router.get("/v1/gallery/export") { _, _ in try api.export() }
  router.post("/v1/gallery/import") { request, _ in try await api.importPack(request) }
  for (path, file) in ServiceRoutes.webFiles {
    router.get(RouterPath(path)) { _, _ in try api.webFile(file) }
  }
  return router
}

/// An application serving `service` at its configured host and port.
public func makeApplication(_ service: AttributionService) -> some ApplicationProtocol {
  Application(
    router: makeRouter(service),
    server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionWatcher()])),
    configuration: .init(
      address: .hostname(service.configuration.host, port: service.configuration.port), serverName: "modelprint"))
}

/// Turns thrown errors into JSON answers and records every request's route, status and time.
struct ServiceMiddleware: RouterMiddleware {
  typealias Context = ServiceRequestContext
  let metrics: ServiceMetrics

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    let start = DispatchTime.now()
    let response: Response
    do { response = try await next(request, context) } catch {
      let answer = ServiceError.from(error)
      if answer.status == .internalServerError {
        context.logger.error("\(request.method) \(request.uri.path): \(type(of: error)): \(error)")
      }
      response = ServiceRoutes.errorResponse(answer)
    }
    metrics.recordRequest(
      route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
      seconds: elapsed(start, .now()))
    return response
  }
}

/// An uploaded file.
struct Upload {
  var name: String
  var data: Data
}

struct ServiceRoutes: Sendable {
  let service: AttributionService
  let web: [String: Data]

  /// URL paths of the web page's files and the files they serve.
  static let webFiles = [
    ("/", "index.html"), ("/index.html", "index.html"), ("/app.js", "app.js"), ("/style.css", "style.css"),
    ("/openapi.json", "openapi.json"),
  ]

  init(service: AttributionService) {
    self.service = service
    var web: [String: Data] = [:]
    if let root = service.configuration.webRoot {
      for (_, file) in Self.webFiles { web[file] = try? Data(contentsOf: root.appendingPathComponent(file)) }
    }
    self.web = web
  }

  // MARK: reads

  func health() throws -> Response {
    try Self.json(
      .ok,
      [
        "status": "ok", "models": try service.models().count, "queue_depth": service.queue.depth,
        "workers": service.configuration.workers, "extractor_sha256": service.identity.sha256,
      ])
  }

  func metrics() -> Response {
    Response(
      status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
      body: .init(byteBuffer: ByteBuffer(bytes: service.metrics.exposition())))
  }

  func models() throws -> Response {
    let dates = ISO8601DateFormatter()
    let spectra = try service.gallery.spectra()
    return try Self.json(
      .ok,
      [
        "models": try service.models().map {
          [
            "name": $0.name, "notes": $0.notes, "images": $0.images, "created": dates.string(from: $0.created),
            "explainable": spectra[$0.name] != nil,
          ] as [String: Any]
        },
        "calibrated": try service.calibration() != nil, "extractor_sha256": service.identity.sha256,
      ])
  }

  func export() throws -> Response {
    Response(
      status: .ok,
      headers: [.contentType: "application/json", .contentDisposition: "attachment; filename=\"gallery-pack.json\""],
      body: .init(byteBuffer: ByteBuffer(bytes: try service.export())))
  }

  func webFile(_ file: String) throws -> Response {
    guard let data = web[file] else {
      throw ServiceError(.notFound, "\(file) is not installed beside this server (see scripts/install.sh)")
    }
    let types = [
      "html": "text/html; charset=utf-8", "js": "text/javascript", "css": "text/css", "json": "application/json",
    ]
    let type = types[(file as NSString).pathExtension] ?? "application/octet-stream"
    return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  // MARK: attribution

  func identify(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
    let start = DispatchTime.now()
    let top = try intParameter(request, "top", default: 5, range: 1...service.configuration.maxTop)
    let upload = try await oneImage(request)
    let e = try await service.embed(upload.data, name: upload.name, isGone: await context.isGone())
    let searchStart = DispatchTime.now()
    let r = try service.identify(e.embedding, top: top)
    var object = Self.identification(r)
    object["timings_ms"] = timings(e, search: elapsed(searchStart, .now()), total: elapsed(start, .now()))
    return try Self.json(.ok, object)
  }

  func explain(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
    let bands = try intParameter(request, "bands", default: 8, range: 1...64)
    let upload = try await oneImage(request)
    let e = try await service.embed(upload.data, name: upload.name, spectra: true, isGone: await context.isGone())
    let r = try service.identify(e.embedding, top: 5)
    let model = request.uri.queryParameters["model"].map(String.init) ?? r.candidates[0].model
    let known = try service.models().map(\.name)
    guard known.contains(model) else {
      throw GalleryError.unknownModel(path: service.gallery.path, name: model, known: known)
    }
    let x = try service.explain(e, model: model, bands: bands)
    let png = try ImageEncoder.png(x.figure())
    let explanation = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(x))
    return try Self.json(
      .ok,
      [
        "identification": Self.identification(r), "explanation": explanation,
        "figure_png": png.base64EncodedString(),
      ])
  }

  func verify(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
    let uploads = try await images(request, parts: true)
    guard uploads.count == 2 else {
      throw ServiceError(
        .badRequest, "verify takes exactly two images as multipart/form-data parts, got \(uploads.count)")
    }
    async let a = service.embed(uploads[0].data, name: uploads[0].name, isGone: await context.isGone())
    async let b = service.embed(uploads[1].data, name: uploads[1].name, isGone: await context.isGone())
    let v = try service.verify(try await a.embedding, try await b.embedding)
    var object: [String: Any] = ["score": Double(v.score), "scoring": v.scoring.rawValue]
    object["threshold"] = v.threshold.map { Double($0) as Any } ?? NSNull()
    object["same"] = v.same ?? NSNull()
    return try Self.json(.ok, object)
  }

  func embed(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
    let upload = try await oneImage(request)
    let e = try await service.embed(upload.data, name: upload.name, isGone: await context.isGone())
    return try Self.json(
      .ok,
      [
        "embedding": e.embedding.map(Double.init), "dimension": e.embedding.count,
        "extractor_sha256": service.identity.sha256,
      ])
  }

  // MARK: writes

  func enroll(_ request: Request, _ context: ServiceRequestContext, name: String) async throws -> Response {
    try authorize(request)
    let (uploads, notesField) = try await imagesAndNotes(request)
    guard !uploads.isEmpty else { throw ServiceError(.unprocessableContent, "no image in the request to enroll") }
    guard uploads.count <= service.configuration.maxEnrollImages else {
      throw ServiceError(
        .contentTooLarge, "at most \(service.configuration.maxEnrollImages) images per request, got \(uploads.count)")
    }
    // One image at a time: an enrollment takes one queue slot however many images it carries, so it
    // cannot fill the queue by itself and starve identification.
    var embedded: [EmbeddedImage] = []
    for u in uploads {
      embedded.append(try await service.embed(u.data, name: u.name, spectra: true, isGone: await context.isGone()))
    }
    let notes = request.uri.queryParameters["notes"].map(String.init) ?? notesField
    let m = try service.enroll(
      model: name, notes: notes, images: zip(uploads, embedded).map { ("upload:\($0.name)", $1) })
    return try Self.json(.created, ["model": Self.model(m), "enrolled": uploads.count])
  }

  func remove(_ request: Request, name: String) throws -> Response {
    try authorize(request)
    return try Self.json(.ok, ["removed": Self.model(try service.remove(model: name))])
  }

  func calibrate(_ request: Request) throws -> Response {
    try authorize(request)
    let c = try service.calibrate()
    let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(c))
    return try Self.json(.ok, ["calibration": object])
  }

  func importPack(_ request: Request) async throws -> Response {
    try authorize(request)
    if let type = request.headers[.contentType]?.lowercased(),
      !type.hasPrefix("application/json") && !type.hasPrefix("application/octet-stream")
    {
      throw ServiceError(.unsupportedMediaType, "a pack is application/json, got \(type)")
    }
    let data = try await body(request, limit: service.configuration.maxPackBytes)
    let models = try service.importPack(data)
    return try Self.json(.ok, ["imported": models.map(Self.model)])
  }

  // MARK: request parts

  /// The path's model name, percent-decoded.
  func name(_ context: ServiceRequestContext) throws -> String {
    let raw = context.parameters.get("name") ?? ""
    guard let name = raw.removingPercentEncoding, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw ServiceError(.badRequest, "the model name in the path is empty or not valid percent-encoding")
    }
    return name
  }

  /// Writes need `Authorization: Bearer TOKEN`; compared in constant time, so the answer's timing does
  /// not tell how much of a guess was right.
  func authorize(_ request: Request) throws {
    let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"modelprint\""]
    guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
      throw ServiceError(
        .unauthorized, "this endpoint changes the gallery: send the server's token as Authorization: Bearer TOKEN",
        headers: challenge)
    }
    let given = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
    let expected = Array(service.configuration.token.utf8)
    var diff = UInt8(given.count == expected.count ? 0 : 1)
    for i in 0..<expected.count { diff |= expected[i] ^ (i < given.count ? given[i] : 0) }
    guard diff == 0 else { throw ServiceError(.unauthorized, "wrong token", headers: challenge) }
  }

  func intParameter(_ request: Request, _ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
    guard let text = request.uri.queryParameters[Substring(key)] else { return value }
    guard let v = Int(text), range.contains(v) else {
      throw ServiceError(.badRequest, "?\(key)= must be a whole number in \(range), got '\(text.prefix(40))'")
    }
    return v
  }

  func body(_ request: Request, limit: Int) async throws -> Data {
    if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
      // Read and drop the body before answering: the connection must drain it anyway before its next
      // request, and clients that are still sending when an early answer arrives (wrk among them) stall.
      // Nothing is kept, so this costs time on the wire, not memory.
      do { for try await _ in request.body {} } catch { throw Self.unreadable(error) }
      throw ServiceError(.contentTooLarge, "the body is \(length) bytes, this server accepts at most \(limit)")
    }
    do {
      let buffer = try await request.body.collect(upTo: limit)
      return Data(buffer.readableBytesView)
    } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
      throw ServiceError(.contentTooLarge, "the body is over \(limit) bytes, the most this server accepts")
    } catch {
      throw Self.unreadable(error)
    }
  }

  /// A body that could not be read (the client closed the connection mid-upload, a malformed chunk) is
  /// the client's error, not the server's.
  static func unreadable(_ error: any Error) -> ServiceError {
    ServiceError(.badRequest, "the request body could not be read (\(String(describing: error).prefix(200)))")
  }

  func oneImage(_ request: Request) async throws -> Upload {
    let uploads = try await images(request, parts: false)
    guard uploads.count == 1 else {
      throw ServiceError(.badRequest, "send one image (the body, or one multipart part), got \(uploads.count)")
    }
    return uploads[0]
  }

  func images(_ request: Request, parts: Bool) async throws -> [Upload] {
    try await imagesAndNotes(request).images
  }

  /// The request's images: the whole body for an image (or unlabelled) content type, else the file parts
  /// of a multipart/form-data body, with its `notes` text field.
  func imagesAndNotes(_ request: Request) async throws -> (images: [Upload], notes: String?) {
    let type = request.headers[.contentType]?.lowercased() ?? "application/octet-stream"
    let raw = ["image/png", "image/jpeg", "image/jpg", "image/webp", "application/octet-stream"]
    if raw.contains(where: { type.hasPrefix($0) }) {
      return ([Upload(name: "body", data: try await body(request, limit: service.configuration.maxBodyBytes))], nil)
    }
    guard type.hasPrefix("multipart/form-data") else {
      throw ServiceError(
        .unsupportedMediaType,
        "send an image (image/png, image/jpeg, image/webp, application/octet-stream) or multipart/form-data, got \(type)"
      )
    }
    guard let boundary = Multipart.boundary(contentType: request.headers[.contentType] ?? "") else {
      throw ServiceError(.badRequest, "multipart/form-data without a boundary parameter")
    }
    let data = try await body(request, limit: service.configuration.maxBodyBytes)
    let parts = try Multipart.parts(data, boundary: boundary).get()
    let files = parts.filter { $0.filename != nil || ($0.contentType.map { !$0.hasPrefix("text/") } ?? false) }
    let notes = parts.first { $0.name == "notes" && $0.filename == nil }.map {
      String(decoding: $0.data, as: UTF8.self)
    }
    return (files.enumerated().map { Upload(name: $1.filename ?? $1.name ?? "part \($0 + 1)", data: $1.data) }, notes)
  }

  func timings(_ e: EmbeddedImage, search: Double, total: Double) -> [String: Any] {
    [
      "queue": e.queued * 1000, "decode": e.decoded * 1000, "embed": e.embedded * 1000, "search": search * 1000,
      "total": total * 1000, "batch_images": e.batch,
    ]
  }

  // MARK: answers

  static func identification(_ r: Identification) -> [String: Any] {
    [
      "model": r.isUnknown ? "unknown" : r.candidates[0].model, "unknown": r.isUnknown,
      "threshold": r.threshold.map { Double($0) as Any } ?? NSNull(),
      "open_set_score": r.openSetScore.map { Double($0) as Any } ?? NSNull(),
      "candidates": r.candidates.map { ["model": $0.model, "score": Double($0.score)] as [String: Any] },
    ]
  }

  static func model(_ m: GalleryModel) -> [String: Any] {
    ["name": m.name, "notes": m.notes, "images": m.images, "created": ISO8601DateFormatter().string(from: m.created)]
  }

  static func json(_ status: HTTPResponse.Status, _ object: [String: Any], headers: HTTPFields = [:]) throws
    -> Response
  {
    var h = headers
    h[.contentType] = "application/json"
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  static func errorResponse(_ e: ServiceError) -> Response {
    let object: [String: Any] = ["error": ["status": Int(e.status.code), "message": e.message]]
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    var headers = e.headers
    headers[.contentType] = "application/json"
    return Response(status: e.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }
}
