import Attribution
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

@testable import Service

/// Concurrent requests, micro-batched across workers, get the answers sequential ones get.
final class ConcurrencyTests: XCTestCase {
  /// Scores may differ by this much between a lone request and one batched with others: a batch of 16
  /// or more windows takes the dense-convolution path, whose sums run in another order and differ from
  /// the per-image path by about 1e-7 relative per layer. Through 18 layers and a cosine of unit vectors
  /// that stays below 1e-5 (measured: under 1e-6 here); 1e-4 leaves room and is still far below the gaps
  /// between the ranked models' scores, which the test also checks are compared name for name.
  static let scoreTolerance: Float = 1e-4

  func testConcurrentAnswersEqualSequentialOnes() async throws {
    let f = try ServiceFixture {
      $0.workers = 2
      $0.maxBatchImages = 8
      $0.batchWait = .milliseconds(20)
    }
    let images = (0..<24).map { ServiceFixture.png(model: $0 % 3, seed: UInt64(100 + $0)) }
    try await f.test { client in
      try await ServiceFixture.enroll(client)
      func identify(_ bytes: [UInt8]) async throws -> (names: [String], scores: [Float], batch: Int) {
        let (h, body) = ServiceFixture.png(bytes)
        let r = try await client.execute(uri: "/v1/identify?top=3", method: .post, headers: h, body: body)
        XCTAssertEqual(r.status, .ok)
        let o = try ServiceFixture.json(r)
        let c = try XCTUnwrap(o["candidates"] as? [[String: Any]])
        return (
          c.map { $0["model"] as! String }, c.map { Float($0["score"] as! Double) },
          (o["timings_ms"] as! [String: Any])["batch_images"] as! Int
        )
      }
      var sequential: [(names: [String], scores: [Float], batch: Int)] = []
      for image in images { sequential.append(try await identify(image)) }
      XCTAssertEqual(Set(sequential.map(\.batch)), [1])
      let concurrent = try await withThrowingTaskGroup(of: (Int, ([String], [Float], Int)).self) { group in
        for (i, image) in images.enumerated() { group.addTask { (i, try await identify(image)) } }
        var out = [([String], [Float], Int)?](repeating: nil, count: images.count)
        for try await (i, r) in group { out[i] = r }
        return out.map { $0! }
      }
      XCTAssertGreaterThan(concurrent.map(\.2).max() ?? 0, 1, "no request was batched with another")
      for (i, (s, c)) in zip(sequential, concurrent).enumerated() {
        XCTAssertEqual(s.names, c.0, "image \(i): ranking differs")
        for (a, b) in zip(s.scores, c.1) {
          XCTAssertEqual(a, b, accuracy: Self.scoreTolerance, "image \(i)")
        }
      }
    }
  }
}

/// A queued request whose client has gone is dropped, not computed, and answered 499.
final class AbandonedRequestTests: XCTestCase {
  func testAbandonedJobIsDropped() async throws {
    let f = try ServiceFixture()
    do {
      _ = try await f.service.embed(Data(ServiceFixture.png(model: 0, seed: 1)), name: "x", isGone: { true })
      XCTFail("an abandoned request was computed")
    } catch {
      XCTAssertTrue(error is CancellationError, "\(error)")
      XCTAssertEqual(ServiceError.from(error).status.code, 499)
    }
    // A request whose client is there is answered as usual.
    let e = try await f.service.embed(Data(ServiceFixture.png(model: 0, seed: 1)), name: "x")
    XCTAssertEqual(e.embedding.count, 32)
  }
}
