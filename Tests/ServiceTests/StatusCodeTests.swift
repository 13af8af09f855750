import Foundation
import Hummingbird
import HummingbirdTesting
import Tensor
import XCTest

@testable import Service

/// Every refusal: its status, its JSON error body and, where the client must act, its headers.
final class StatusCodeTests: XCTestCase {
  static func message(_ r: TestResponse) throws -> String {
    try XCTUnwrap((try ServiceFixture.json(r)["error"] as? [String: Any])?["message"] as? String)
  }

  func testTokenRule() async throws {
    let f = try ServiceFixture()
    try await f.test { client in
      let image = ServiceFixture.multipart(files: [("image", ServiceFixture.png(model: 0, seed: 1))])
      let writes: [(String, HTTPRequest.Method)] = [
        ("/v1/models/x/images", .post), ("/v1/models/x", .delete), ("/v1/calibrate", .post),
        ("/v1/gallery/import", .post),
      ]
      for (uri, method) in writes {
        for auth in [nil, "Bearer wrong", "Bearer test-token-longer", "Basic dGVzdA==", "Bearer "] {
          var h = ServiceFixture.multipartHeaders
          if let auth { h[.authorization] = auth }
          try await client.execute(uri: uri, method: method, headers: h, body: image) { r in
            XCTAssertEqual(r.status, .unauthorized, "\(method) \(uri) with \(auth ?? "no token")")
            XCTAssertEqual(r.headers[.wwwAuthenticate], "Bearer realm=\"modelprint\"")
          }
        }
      }
      // Reads need no token.
      for uri in ["/v1/models", "/v1/gallery/export", "/healthz", "/metrics"] {
        try await client.execute(uri: uri, method: .get) { XCTAssertEqual($0.status, .ok, uri) }
      }
      // The right token is accepted.
      try await client.execute(
        uri: "/v1/models/x/images", method: .post, headers: ServiceFixture.authorised, body: image
      ) { XCTAssertEqual($0.status, .created) }
    }
  }

  func testBadUploads() async throws {
    let f = try ServiceFixture {
      $0.maxBodyBytes = 8192
      $0.maxPixels = 30 * 30
    }
    try await f.test { client in
      try await ServiceFixture.enroll(client, models: 2, perModel: 2)
      let png = ServiceFixture.png(model: 0, seed: 9)
      func post(_ bytes: [UInt8], type: String = "image/png", uri: String = "/v1/identify") async throws
        -> TestResponse
      {
        try await client.execute(
          uri: uri, method: .post, headers: [.contentType: type], body: ByteBuffer(bytes: bytes))
      }
      var r = try await post([UInt8](repeating: 7, count: 9000))
      XCTAssertEqual(r.status, .contentTooLarge)
      XCTAssertTrue(try Self.message(r).contains("8192"))
      r = try await post(Array("not an image at all".utf8))
      XCTAssertEqual(r.status, .unprocessableContent)
      var m = try Self.message(r)
      XCTAssertTrue(m.contains("JPEG, PNG or WebP"), m)
      r = try await post(Array(png.prefix(png.count / 2)))
      XCTAssertEqual(r.status, .unprocessableContent)
      r = try await post([])
      XCTAssertEqual(r.status, .unprocessableContent)
      // 40 × 40 = 1600 pixels > 900: the decoder's bomb guard, refused before decoding.
      r = try await post(ServiceFixture.png(side: 40, model: 0, seed: 1))
      XCTAssertEqual(r.status, .unprocessableContent)
      m = try Self.message(r)
      XCTAssertTrue(m.contains("900"), m)
      var random = RNG(seed: 3)
      r = try await post((0..<4000).map { _ in UInt8(random.int(256)) })
      XCTAssertEqual(r.status, .unprocessableContent)
      r = try await post(png, type: "text/plain")
      XCTAssertEqual(r.status, .unsupportedMediaType)
      r = try await post(png, type: "multipart/form-data")
      XCTAssertEqual(r.status, .badRequest)
      r = try await post(
        Array("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc".utf8),
        type: "multipart/form-data; boundary=x")
      XCTAssertEqual(r.status, .badRequest)
      r = try await post(png, uri: "/v1/identify?top=0")
      XCTAssertEqual(r.status, .badRequest)
      r = try await post(png, uri: "/v1/identify?top=abc")
      XCTAssertEqual(r.status, .badRequest)
      r = try await post(png, uri: "/v1/verify")
      XCTAssertEqual(r.status, .badRequest)
      // The server is still answering after all of that.
      r = try await post(png)
      XCTAssertEqual(r.status, .ok)
    }
  }

  func testUnknownModelsRoutesAndGalleryStates() async throws {
    let f = try ServiceFixture()
    try await f.test { client in
      let auth: HTTPFields = [.authorization: "Bearer \(ServiceFixture.token)"]
      let (h, body) = ServiceFixture.png(ServiceFixture.png(model: 0, seed: 1))
      // An empty gallery cannot identify (409) or calibrate (422).
      try await client.execute(uri: "/v1/identify", method: .post, headers: h, body: body) {
        XCTAssertEqual($0.status, .conflict)
      }
      try await client.execute(uri: "/v1/calibrate", method: .post, headers: auth) {
        XCTAssertEqual($0.status, .unprocessableContent)
      }
      try await client.execute(uri: "/v1/models/nobody", method: .delete, headers: auth) { r in
        XCTAssertEqual(r.status, .notFound)
        XCTAssertTrue(try Self.message(r).contains("nobody"))
      }
      try await client.execute(uri: "/v1/nothing-here", method: .get) { XCTAssertEqual($0.status, .notFound) }
      try await ServiceFixture.enroll(client, models: 2, perModel: 2)
      try await client.execute(uri: "/v1/explain?model=nobody", method: .post, headers: h, body: body) {
        XCTAssertEqual($0.status, .notFound)
      }
      // Enrolling with one bad image among good ones enrolls nothing.
      try await client.execute(
        uri: "/v1/models/model0/images", method: .post, headers: ServiceFixture.authorised,
        body: ServiceFixture.multipart(files: [
          ("image", ServiceFixture.png(model: 0, seed: 70)), ("image", Array("broken".utf8)),
        ])
      ) { XCTAssertEqual($0.status, .unprocessableContent) }
      try await client.execute(uri: "/v1/models", method: .get) { r in
        XCTAssertEqual((try ServiceFixture.json(r)["models"] as? [[String: Any]])?.first?["images"] as? Int, 2)
      }
    }
  }

  /// A full queue answers 503 with Retry-After at once; the requests it took are all answered.
  func testFullQueueAnswers503() async throws {
    let f = try ServiceFixture {
      $0.queueCapacity = 1
      $0.maxBatchImages = 1
    }
    try await f.test { client in
      try await ServiceFixture.enroll(client, models: 2, perModel: 2)
      let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
        for i in 0..<24 {
          group.addTask {
            let (h, body) = ServiceFixture.png(ServiceFixture.png(side: 64, model: 0, seed: UInt64(i)))
            let r = try await client.execute(uri: "/v1/identify", method: .post, headers: h, body: body)
            return (r.status, r.headers[.retryAfter])
          }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      XCTAssertTrue(statuses.contains { $0.0 == .serviceUnavailable }, "no 503 among \(statuses.map(\.0.code))")
      XCTAssertTrue(statuses.contains { $0.0 == .ok })
      for s in statuses {
        XCTAssertTrue(s.0 == .ok || s.0 == .serviceUnavailable, "\(s.0)")
        if s.0 == .serviceUnavailable { XCTAssertEqual(s.1, "1") }
      }
    }
  }
}
