import Fingerprint
import Foundation

/// The settings of one `modelprint serve` process: where it listens, who may write, and the bounds that
/// keep a client from holding unbounded memory or time.
public struct ServiceConfiguration: Sendable {
  /// Interface to bind; loopback unless told otherwise, so a gallery is not exposed by accident.
  public var host = "127.0.0.1"
  public var port = 8080
  /// The bearer token every write needs (enroll, remove, calibrate, import).
  public var token: String
  /// Inference worker threads; each runs whole batches through the extractor.
  public var workers = 1
  /// Requests waiting for a worker beyond this are answered 503 with `Retry-After`.
  public var queueCapacity = 64
  /// The most images a worker takes from the queue at once (each is grid² windows). A lone image runs
  /// one forward pass on every thread; several are shared out as one lane per thread, and each lane
  /// then takes up to `maxBatchImages / threads` more at a time while the queue holds some. At 2 threads
  /// a lane embeds 2 images at a time: the shipped ensemble's image is about 55 ms of work on both
  /// cores, so a larger lane only makes the requests that just missed it wait behind it (p99 at 8
  /// connections 0.59 s at 4, 0.87 s at 8 and 1.9 s at 16, throughput the same; `docs/service.md`),
  /// while a light single network gains from 8 images a lane (`--batch 16`).
  public var maxBatchImages = 4
  /// How long a worker waits for more requests to join a batch once it holds one.
  public var batchWait: Duration = .milliseconds(2)
  /// How long the queue must stay empty after work before freed memory is returned to the system.
  public var trimAfterIdle: Duration = .seconds(2)
  /// The largest request body of an image endpoint, in bytes (413 beyond).
  public var maxBodyBytes = 20 << 20
  /// The largest fingerprint pack an import accepts, in bytes.
  public var maxPackBytes = 256 << 20
  /// The decoder's bomb guard: the most pixels an uploaded image may claim (422 beyond).
  public var maxPixels = 16_000_000
  /// The most images one enrollment request may carry.
  public var maxEnrollImages = 64
  /// The most models `top` may ask for.
  public var maxTop = 100
  /// Windows per side of the embedding grid (the CLI's default, so answers agree with `identify`).
  public var grid = Extractor.defaultGrid
  /// The folder of the web page (`index.html`, `app.js`, `style.css`, `openapi.json`); nil serves none.
  public var webRoot: URL?

  /// Settings with `token` and every other value at its default.
  public init(token: String) { self.token = token }
}
