import Attribution
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

@testable import Service

/// Gallery export and import between servers: the same models and embeddings, refused across extractors.
final class PackTests: XCTestCase {
  func testExportImportRoundTripAndExtractorMismatch() async throws {
    let source = try ServiceFixture()
    let box = PackBox()
    try await source.test { client in
      try await ServiceFixture.enroll(client, models: 2, perModel: 2)
      try await client.execute(uri: "/v1/gallery/export", method: .get) { r in
        XCTAssertEqual(r.status, .ok)
        box.data = Data(r.body.readableBytesView)
      }
    }
    let pack = try FingerprintPack.decode(box.data, name: "export")
    XCTAssertEqual(pack.models.map(\.name), ["model0", "model1"])
    XCTAssertEqual(pack.models.map(\.images.count), [2, 2])
    XCTAssertNotNil(pack.models[0].spectra)

    let same = try ServiceFixture()  // the same seed: the same extractor file
    let auth: HTTPFields = [.authorization: "Bearer \(ServiceFixture.token)", .contentType: "application/json"]
    let data = box.data
    try await same.test { client in
      try await client.execute(
        uri: "/v1/gallery/import", method: .post, headers: auth, body: ByteBuffer(bytes: data)
      ) { r in
        XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        XCTAssertEqual((try ServiceFixture.json(r)["imported"] as? [[String: Any]])?.count, 2)
      }
      try await client.execute(uri: "/v1/gallery/export", method: .get) { r in
        let again = try FingerprintPack.decode(Data(r.body.readableBytesView), name: "again")
        XCTAssertEqual(again.models, pack.models)
      }
      try await client.execute(
        uri: "/v1/gallery/import", method: .post, headers: auth, body: ByteBuffer(string: "{\"format\": 3}")
      ) { XCTAssertEqual($0.status, .unprocessableContent) }
      var text = auth
      text[.contentType] = "text/plain"
      try await client.execute(
        uri: "/v1/gallery/import", method: .post, headers: text, body: ByteBuffer(bytes: data)
      ) { XCTAssertEqual($0.status, .unsupportedMediaType) }
    }

    let other = try ServiceFixture(seed: 8)
    try await other.test { client in
      try await client.execute(
        uri: "/v1/gallery/import", method: .post, headers: auth, body: ByteBuffer(bytes: data)
      ) { r in
        XCTAssertEqual(r.status, .conflict)
        XCTAssertTrue(String(buffer: r.body).contains("extractor"))
      }
    }
  }
}

/// Carries the exported bytes out of the test client's closure.
final class PackBox: @unchecked Sendable {
  var data = Data()
}
