import Attribution
import Fingerprint
import Foundation
import Hummingbird
import HummingbirdTesting
import Imaging
import NN
import Service
import Tensor
import XCTest

/// A service on an untrained tiny extractor (ResNet-18 of width 4 on 16 px windows, milliseconds per
/// image) and a gallery in a temporary folder; nothing here is a trained result, the tests check what the
/// server does with requests.
final class ServiceFixture {
  static let token = "test-token"
  let folder: URL
  let extractorURL: URL
  let service: AttributionService
  /// The extractor the service embeds with.
  let extractor: Extractor

  /// With `whitened`, the extractor carries a seeded random whitening (as the shipped one carries a
  /// fitted one), so that every path must apply it. With `mixedSizes`, it is an ensemble with a second
  /// network on 32 px windows, so that the server must cut each member's windows.
  init(
    seed: UInt64 = 7, whitened: Bool = false, mixedSizes: Bool = false,
    configure: (inout ServiceConfiguration) -> Void = { _ in }
  ) throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("service-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    extractorURL = folder.appendingPathComponent("extractor.safetensors")
    var rng = RNG(seed: seed)
    var input = SpectralInput()
    input.size = 16
    var extractor = Extractor(
      network: ResNet(depth: 18, width: 4, classes: 3, projection: 8, rng: &rng), input: input,
      classes: ["a", "b", "c"])
    if whitened {
      let d = extractor.network.embeddingWidth
      let w = try EmbeddingWhitening(
        mean: (0..<d).map { _ in 0.1 * rng.normal() }, matrix: (0..<(d * d)).map { _ in rng.normal() })
      extractor = extractor.with(whitening: w, source: "test")
    }
    if mixedSizes {
      var large = input
      large.size = 32
      extractor = try Extractor.ensemble([
        extractor,
        Extractor(
          network: ResNet(depth: 18, width: 4, classes: 3, projection: 8, rng: &rng), input: large,
          classes: ["a", "b", "c"]),
      ])
    }
    try extractor.save(to: extractorURL)
    let loaded = try Extractor.load(from: extractorURL)
    self.extractor = loaded
    let identity = ExtractorIdentity(sha256: try SHA256.hex(contentsOf: extractorURL), settings: "tiny")
    var config = ServiceConfiguration(token: Self.token)
    config.webRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("web")
    configure(&config)
    service = try AttributionService(
      extractor: loaded, identity: identity, gallery: folder.appendingPathComponent("gallery.sqlite"),
      configuration: config)
  }

  deinit {
    service.shutdown()
    try? FileManager.default.removeItem(at: folder)
  }

  /// Runs `body` against the service's router in process.
  func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
    let app = Application(router: makeRouter(service))
    try await app.test(.router) { client in try await body(client) }
  }

  /// A PNG: seeded noise around a per-model tint with a per-model stripe period, so models differ.
  static func png(side: Int = 24, model: Int, seed: UInt64) -> [UInt8] {
    var rng = RNG(seed: seed &* 31 &+ UInt64(model))
    let plane = side * side
    var pixels = [Float](repeating: 0, count: 3 * plane)
    for c in 0..<3 {
      let base = Float((model * 37 + c * 71) % 160 + 48) / 255
      for j in 0..<plane {
        let stripe: Float = (j % side) % (model + 2) == 0 ? 0.08 : 0
        pixels[c * plane + j] = min(1, max(0, base + stripe + Float(rng.int(61) - 30) / 255))
      }
    }
    return Array(try! ImageEncoder.png(Image(width: side, height: side, pixels: pixels)))
  }

  static let boundary = "modelprint-test-boundary"

  /// A multipart/form-data body of files (`name`, bytes) and text fields.
  static func multipart(files: [(String, [UInt8])], fields: [(String, String)] = []) -> ByteBuffer {
    var b = ByteBuffer()
    for (i, (name, bytes)) in files.enumerated() {
      b.writeString(
        "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"f\(i).png\"\r\n"
          + "Content-Type: image/png\r\n\r\n")
      b.writeBytes(bytes)
      b.writeString("\r\n")
    }
    for (name, value) in fields {
      b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
    }
    b.writeString("--\(boundary)--\r\n")
    return b
  }

  static var multipartHeaders: HTTPFields { [.contentType: "multipart/form-data; boundary=\(boundary)"] }

  static var authorised: HTTPFields {
    var h = multipartHeaders
    h[.authorization] = "Bearer \(token)"
    return h
  }

  /// Enrolls `models` models of `perModel` images each through the API and calibrates.
  static func enroll(_ client: any TestClientProtocol, models: Int = 3, perModel: Int = 3) async throws {
    for m in 0..<models {
      let files = (0..<perModel).map { ("image", png(model: m, seed: UInt64($0))) }
      try await client.execute(
        uri: "/v1/models/model\(m)/images", method: .post, headers: authorised,
        body: multipart(files: files, fields: [("notes", "model number \(m)")])
      ) { XCTAssertEqual($0.status, .created, String(buffer: $0.body)) }
    }
    try await client.execute(
      uri: "/v1/calibrate", method: .post, headers: [.authorization: "Bearer \(token)"]
    ) { XCTAssertEqual($0.status, .ok, String(buffer: $0.body)) }
  }

  /// `/v1/verify` of an image of `model` (seed 60) and one of `other` (seed 61): its JSON, after checking
  /// the answer is 200.
  static func verify(_ client: any TestClientProtocol, model: Int, against other: Int) async throws -> [String: Any] {
    try await client.execute(
      uri: "/v1/verify", method: .post, headers: multipartHeaders,
      body: multipart(files: [("a", png(model: model, seed: 60)), ("b", png(model: other, seed: 61))])
    ) { r in
      XCTAssertEqual(r.status, .ok, String(buffer: r.body))
      return try json(r)
    }
  }

  static func json(_ response: TestResponse) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
  }

  static func png(_ bytes: [UInt8]) -> (HTTPFields, ByteBuffer) {
    ([.contentType: "image/png"], ByteBuffer(bytes: bytes))
  }
}
