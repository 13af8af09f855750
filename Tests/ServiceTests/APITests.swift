import Fingerprint
import Foundation
import Hummingbird
import HummingbirdTesting
import Imaging
import XCTest

@testable import Service

/// Every endpoint's successful answer.
final class APITests: XCTestCase {
  func testHealthMetricsAndWebFiles() async throws {
    let f = try ServiceFixture()
    try await f.test { client in
      try await client.execute(uri: "/healthz", method: .get) { r in
        XCTAssertEqual(r.status, .ok)
        XCTAssertEqual(try ServiceFixture.json(r)["status"] as? String, "ok")
      }
      for (path, type) in [
        ("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css"),
        ("/openapi.json", "application/json"),
      ] {
        try await client.execute(uri: path, method: .get) { r in
          XCTAssertEqual(r.status, .ok, path)
          XCTAssertTrue(r.headers[.contentType]?.hasPrefix(type) ?? false, path)
        }
      }
      try await client.execute(uri: "/metrics", method: .get) { r in
        XCTAssertEqual(r.status, .ok)
        let text = String(buffer: r.body)
        for name in [
          "modelprint_http_requests_total", "modelprint_http_request_duration_seconds_bucket",
          "modelprint_queue_depth", "modelprint_images_per_second",
        ] {
          XCTAssertTrue(text.contains(name), "no \(name) in /metrics")
        }
      }
    }
  }

  func testOpenAPIDocumentIsJSONAndNamesEveryRoute() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("web/openapi.json")
    let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    let paths = try XCTUnwrap(doc["paths"] as? [String: Any])
    for p in [
      "/v1/identify", "/v1/verify", "/v1/embed", "/v1/explain", "/v1/models", "/v1/models/{name}/images",
      "/v1/models/{name}", "/v1/calibrate", "/v1/gallery/export", "/v1/gallery/import", "/healthz", "/metrics",
    ] {
      XCTAssertNotNil(paths[p], "openapi.json lacks \(p)")
    }
  }

  func testEnrollListIdentifyVerifyEmbedExplainRemove() async throws {
    let f = try ServiceFixture()
    try await f.test { client in
      try await ServiceFixture.enroll(client)
      try await client.execute(uri: "/v1/models", method: .get) { r in
        XCTAssertEqual(r.status, .ok)
        let models = try XCTUnwrap(try ServiceFixture.json(r)["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["name"] as? String }, ["model0", "model1", "model2"])
        XCTAssertEqual(models.map { $0["images"] as? Int }, [3, 3, 3])
        XCTAssertEqual(models[1]["notes"] as? String, "model number 1")
        XCTAssertEqual(models[0]["explainable"] as? Bool, true)
      }
      let (headers, body) = ServiceFixture.png(ServiceFixture.png(model: 1, seed: 50))
      try await client.execute(uri: "/v1/identify?top=2", method: .post, headers: headers, body: body) { r in
        XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        let o = try ServiceFixture.json(r)
        XCTAssertEqual((o["candidates"] as? [[String: Any]])?.count, 2)
        XCTAssertNotNil(o["threshold"] as? Double)
        XCTAssertNotNil(o["unknown"] as? Bool)
        XCTAssertNotNil((o["timings_ms"] as? [String: Any])?["embed"] as? Double)
      }
      // The same image as a multipart part gets the same answer.
      try await client.execute(
        uri: "/v1/identify?top=2", method: .post, headers: ServiceFixture.multipartHeaders,
        body: ServiceFixture.multipart(files: [("image", ServiceFixture.png(model: 1, seed: 50))])
      ) { r in
        XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        XCTAssertEqual((try ServiceFixture.json(r)["candidates"] as? [[String: Any]])?.count, 2)
      }
      do {
        let o = try await ServiceFixture.verify(client, model: 0, against: 0)
        XCTAssertNotNil(o["score"] as? Double)
        XCTAssertNotNil(o["same"] as? Bool)
        XCTAssertEqual(o["scoring"] as? String, "plain", "an extractor without a whitening has no gallery metric")
      }
      try await client.execute(uri: "/v1/embed", method: .post, headers: headers, body: body) { r in
        XCTAssertEqual(r.status, .ok)
        let o = try ServiceFixture.json(r)
        XCTAssertEqual(o["dimension"] as? Int, 32)
        XCTAssertEqual((o["embedding"] as? [Double])?.count, 32)
      }
      try await client.execute(uri: "/v1/explain?bands=4", method: .post, headers: headers, body: body) { r in
        XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        let o = try ServiceFixture.json(r)
        let x = try XCTUnwrap(o["explanation"] as? [String: Any])
        XCTAssertEqual((x["bands"] as? [[String: Any]])?.count, 4)
        XCTAssertEqual((x["difference"] as? [Double])?.count, 16 * 16)
        let png = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(o["figure_png"] as? String)))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
      }
      try await client.execute(
        uri: "/v1/models/model2", method: .delete, headers: [.authorization: "Bearer \(ServiceFixture.token)"]
      ) { r in
        XCTAssertEqual(r.status, .ok)
        XCTAssertEqual((try ServiceFixture.json(r)["removed"] as? [String: Any])?["name"] as? String, "model2")
      }
      try await client.execute(uri: "/v1/models", method: .get) { r in
        XCTAssertEqual((try ServiceFixture.json(r)["models"] as? [[String: Any]])?.count, 2)
      }
    }
  }

  /// With a whitened extractor the gallery adapts, and `/v1/verify` and the open-set decision of
  /// `/v1/identify` score in the gallery's context against thresholds calibrated the same way.
  func testVerifyAndOpenSetScoreInTheGallerysContext() async throws {
    let f = try ServiceFixture(whitened: true)
    try await f.test { client in
      try await ServiceFixture.enroll(client)
      do {
        let o = try await ServiceFixture.verify(client, model: 0, against: 1)
        XCTAssertEqual(o["scoring"] as? String, "gallery")
        let score = try XCTUnwrap(o["score"] as? Double)
        XCTAssertTrue(score.isFinite && abs(score) <= 1 + 1e-6, "a cosine, got \(score)")
        XCTAssertNotNil(o["threshold"] as? Double, "calibrated by enroll")
      }
      // identify decides "unknown" on the best model's score in the same context, and says which.
      try await client.execute(
        uri: "/v1/identify?top=2", method: .post, headers: ServiceFixture.multipartHeaders,
        body: ServiceFixture.multipart(files: [("image", ServiceFixture.png(model: 1, seed: 70))])
      ) { r in
        XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        let o = try ServiceFixture.json(r)
        let score = try XCTUnwrap(o["open_set_score"] as? Double)
        let threshold = try XCTUnwrap(o["threshold"] as? Double)
        XCTAssertEqual(o["unknown"] as? Bool, score < threshold)
      }
    }
  }

  /// The server's embedding of an upload is the CLI's (`Extractor.embed(images:)`), whitening included.
  func testServerEmbeddingEqualsTheExtractorsWithItsWhitening() async throws {
    try await assertServerEmbeddingIsTheExtractors(try ServiceFixture(whitened: true))
  }

  /// So it is for an ensemble whose members take windows of two sizes.
  func testServerEmbeddingOfAnEnsembleOfTwoWindowSizes() async throws {
    let f = try ServiceFixture(whitened: true, mixedSizes: true)
    XCTAssertEqual(f.extractor.inputs.map(\.size), [16, 32])
    try await assertServerEmbeddingIsTheExtractors(f)
  }

  func assertServerEmbeddingIsTheExtractors(_ f: ServiceFixture) async throws {
    let bytes = ServiceFixture.png(model: 2, seed: 9)
    let image = try ImageDecoder().decode(Data(bytes), name: "x.png")
    let expected = f.extractor.embed(images: [image])[0]
    let raw = f.extractor.rawEmbeddings(images: [image])[0]
    try await f.test { client in
      let (headers, body) = ServiceFixture.png(bytes)
      try await client.execute(uri: "/v1/embed", method: .post, headers: headers, body: body) { r in
        XCTAssertEqual(r.status, .ok)
        let got = try XCTUnwrap(try ServiceFixture.json(r)["embedding"] as? [Double]).map { Float($0) }
        XCTAssertEqual(got.count, expected.count)
        // Same windows, same sums in the same order: equal up to the batch's kernel blocking, a few ulps
        // of the largest value.
        let scale = expected.map(abs).max()!
        for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale) }
        XCTAssertGreaterThan(zip(got, raw).map { abs($0 - $1) }.max()!, 1e-2 * scale, "the whitening was applied")
      }
    }
  }

  /// A model name with a space and a slash arrives percent-encoded and is stored decoded.
  func testPercentEncodedModelName() async throws {
    let f = try ServiceFixture()
    try await f.test { client in
      try await client.execute(
        uri: "/v1/models/my%20gan%2Fv2/images", method: .post, headers: ServiceFixture.authorised,
        body: ServiceFixture.multipart(files: [("image", ServiceFixture.png(model: 0, seed: 1))])
      ) { r in
        XCTAssertEqual(r.status, .created, String(buffer: r.body))
        XCTAssertEqual((try ServiceFixture.json(r)["model"] as? [String: Any])?["name"] as? String, "my gan/v2")
      }
    }
  }
}
