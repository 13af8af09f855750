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
  /// then takes up to `maxBatchImages / threads` more at a time while the queue holds some, so at 2
  /// threads a lane's pass embeds 8 images (72 windows), the size the network runs fastest at on one
  /// thread (`modelprint-bench --threads 1 resnet-infer --batch 72`).
  public var maxBatchImages = 16
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
