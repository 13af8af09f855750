// Inference workers with micro-batching and a bounded queue.
//
// A request hands its image bytes to the queue and awaits the answer. Each worker thread takes the
// oldest request, then keeps taking more for at most `batchWait` (or until `maxBatchImages`), decodes
// them, and embeds their windows: a lone image in one forward pass on every thread, several in one lane
// per thread that goes on taking queued requests until the queue is empty. Under load the queue is never
// empty, so batches fill without waiting and throughput rises with concurrency, while a lone request
// waits `batchWait` at most. Decoding happens on the worker, after the request left the queue, so the
// memory held is bounded by the queue's capacity times the body limit plus one decoded batch per worker.
// A full queue refuses at once (503 with Retry-After) instead of growing.
//
// A burst leaves the buffer pool, the worker's oneDNN primitives and glibc's arenas holding what its
// batches used, so the resident size would stay at its peak; after a quiet spell of `trimAfterIdle` a
// worker hands it back (``MemoryRelease``), and the server's memory returns close to its idle level.
//
// Threads, not tasks: a forward pass blocks for tens of milliseconds, and Swift's cooperative pool (which
// also runs the HTTP handlers) must not be blocked. The extractor's `embed` only reads the network in eval
// mode, so several workers share one extractor.

import Attribution
import Fingerprint
import Foundation
import Imaging
import Tensor

/// What the queue returns for one image.
struct EmbeddedImage: Sendable {
  /// The image's fingerprint embedding: the mean of its window embeddings, then the extractor's
  /// whitening, as `Extractor.embed(images:)`.
  var embedding: [Float]
  /// Its residual spectra, when the request asked for them.
  var spectra: ResidualSpectra?
  /// Seconds spent waiting in the queue, decoding, and in the forward pass (shared by the batch).
  var queued: Double
  var decoded: Double
  var embedded: Double
  /// Images in the forward pass this one was part of.
  var batch: Int
}

/// A fixed set of worker threads embedding images in batches.
final class InferenceQueue: @unchecked Sendable {
  private struct Job {
    var data: Data
    var name: String
    var wantsSpectra: Bool
    var enqueued: DispatchTime
    /// True once the client has disconnected: the job is dropped rather than computed.
    var isGone: @Sendable () -> Bool
    var done: @Sendable (Result<EmbeddedImage, any Error>) -> Void
  }

  private let extractor: Extractor
  private let configuration: ServiceConfiguration
  private let condition = NSCondition()
  private var jobs: [Job] = []
  private var stopped = false
  private var threads: [Thread] = []
  /// Set once a batch was taken; the worker that next finds the queue idle for `trimAfterIdle` returns
  /// freed memory to the system and clears it.
  private var trimPending = false
  private let metrics: ServiceMetrics

  /// Requests waiting for a worker.
  var depth: Int {
    condition.lock()
    defer { condition.unlock() }
    return jobs.count
  }

  init(extractor: Extractor, configuration: ServiceConfiguration, metrics: ServiceMetrics) {
    self.extractor = extractor
    self.configuration = configuration
    self.metrics = metrics
    for i in 0..<max(1, configuration.workers) {
      // The threads hold the queue until ``stop()``: a server keeps it for its whole life.
      let t = Thread { self.work() }
      t.name = "modelprint-inference-\(i)"
      // The default 512 KiB stack of secondary threads is too small for the network's kernels.
      t.stackSize = 16 << 20
      threads.append(t)
      t.start()
    }
  }

  /// Ends the workers after the jobs already queued.
  func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    condition.unlock()
  }

  /// Embeds one image file's bytes (`name` identifies it in errors); `isGone` tells whether the client
  /// has left, so that its job is dropped instead of holding a slot and a worker.
  ///
  /// - Throws: ``ServiceError`` 503 when the queue is full, `ImageError` when the bytes do not decode.
  func embed(
    _ data: Data, name: String, spectra: Bool = false, isGone: @escaping @Sendable () -> Bool = { false }
  ) async throws -> EmbeddedImage {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<EmbeddedImage, any Error>) in
      let job = Job(
        data: data, name: name, wantsSpectra: spectra, enqueued: .now(), isGone: isGone,
        done: { continuation.resume(with: $0) })
      condition.lock()
      if jobs.count >= configuration.queueCapacity { dropAbandoned() }
      guard !stopped, jobs.count < configuration.queueCapacity else {
        condition.unlock()
        metrics.rejected.increment()
        continuation.resume(
          throwing: ServiceError(
            .serviceUnavailable, "the server is busy (\(configuration.queueCapacity) requests queued); retry shortly",
            headers: [.retryAfter: "1"]))
        return
      }
      jobs.append(job)
      metrics.queueDepth.set(Double(jobs.count))
      condition.signal()
      condition.unlock()
    }
  }

  /// Removes the queued jobs whose clients have gone (with the lock held): a client that timed out must
  /// not keep its slot, or a burst of abandoned requests would answer 503 to the clients still there.
  private func dropAbandoned() {
    var kept: [Job] = []
    for job in jobs {
      if job.isGone() { job.done(.failure(CancellationError())) } else { kept.append(job) }
    }
    jobs = kept
  }

  private func work() {
    while let batch = nextBatch() { run(batch) }
  }

  /// The oldest job and those that arrive within the wait bound, nil once stopped and drained.
  private func nextBatch() -> [Job]? {
    condition.lock()
    defer {
      metrics.queueDepth.set(Double(jobs.count))
      condition.unlock()
    }
    while jobs.isEmpty {
      if stopped { return nil }
      if trimPending {
        // The first idle pause after work: give back what the batches freed (see ``trimPending``).
        if !condition.wait(until: Date().addingTimeInterval(seconds(configuration.trimAfterIdle))) {
          trimPending = false
          condition.unlock()
          MemoryRelease.trim()
          condition.lock()
        }
      } else {
        condition.wait()
      }
    }
    trimPending = true
    var batch = [jobs.removeFirst()]
    let deadline = Date().addingTimeInterval(seconds(configuration.batchWait))
    while batch.count < configuration.maxBatchImages {
      if !jobs.isEmpty {
        batch.append(jobs.removeFirst())
      } else if stopped || !condition.wait(until: deadline) {
        break
      }
    }
    return batch
  }

  /// The lanes of one multi-image batch, counted under the queue's lock.
  private final class LaneGroup {
    /// Lanes that are embedding (not waiting for work).
    var working = 0
    /// Set when every lane that started found the queue empty: all lanes then leave together.
    var ended = false
  }

  /// More queued jobs for a lane of `group`, at most `limit`. When the queue is empty the lane waits
  /// while another lane still works (more requests will come from its clients) and the group ends only
  /// when no lane works: a lane that left at once could leave the other working alone for as long as
  /// the load lasts, with its own thread spinning at the region's end.
  private func takeMore(_ limit: Int, group: LaneGroup) -> [Job] {
    condition.lock()
    defer {
      metrics.queueDepth.set(Double(jobs.count))
      condition.unlock()
    }
    group.working -= 1
    while jobs.isEmpty && group.working > 0 && !group.ended && !stopped { condition.wait() }
    guard !jobs.isEmpty, !group.ended else {
      group.ended = true
      condition.broadcast()
      return []
    }
    group.working += 1
    let n = min(limit, jobs.count)
    let taken = Array(jobs.prefix(n))
    jobs.removeFirst(n)
    return taken
  }

  private func run(_ batch: [Job]) {
    let lanes = min(Threads.count, batch.count)
    guard lanes > 1 else {
      embedAndAnswer(prepare(batch))
      return
    }
    // Several images: one lane per thread, each decoding and embedding its own images on its thread,
    // then taking more from the queue while there are some. A lane never waits for another between
    // batches, so under load the threads meet only when the queue runs dry, and a lane's decoding
    // overlaps the other's forward pass; a batch split over all threads would stop at a barrier after
    // decoding and after every layer, where the faster thread waits (``Extractor/embed(windows:lanes:)``).
    let perLane = max(1, configuration.maxBatchImages / lanes)
    let group = LaneGroup()
    Threads.parallelFor(lanes) { l in
      // A lane counts as working from its start: if OpenMP forms a smaller team, one thread runs the
      // lanes one after another, and a lane not yet started must not be waited for.
      condition.lock()
      group.working += 1
      condition.unlock()
      Threads.withCount(1) {
        var mine = Array(batch[(batch.count * l / lanes)..<(batch.count * (l + 1) / lanes)])
        while !mine.isEmpty {
          embedAndAnswer(prepare(mine))
          mine = takeMore(perLane, group: group)
        }
      }
    }
  }

  private struct Prepared {
    var job: Job
    var windows: [Image]
    var spectra: ResidualSpectra?
    var queued: Double
    var decoded: Double
  }

  /// Decodes the live jobs and cuts their windows, answering the gone and the undecodable at once.
  /// Decoding is per image and single-threaded, so the images are decoded side by side on the calling
  /// thread's count of threads (one in a lane).
  private func prepare(_ jobs: [Job]) -> [Prepared] {
    let decoder = ImageDecoder(maxPixels: configuration.maxPixels)
    let input = extractor.input
    let grid = configuration.grid
    var live: [Job] = []
    for job in jobs {
      if job.isGone() { job.done(.failure(CancellationError())) } else { live.append(job) }
    }
    var results = [Result<Prepared, any Error>?](repeating: nil, count: live.count)
    results.withUnsafeMutableBufferPointer { slots in
      Threads.parallelFor(live.count) { i in
        let job = live[i]
        let start = DispatchTime.now()
        slots[i] = Result {
          let image = try decoder.decode(job.data, name: job.name)
          let windows = extractor.windows(image, grid: grid)
          let spectra = job.wantsSpectra ? ResidualSpectra.of(image, input: input, grid: grid) : nil
          return Prepared(
            job: job, windows: windows, spectra: spectra, queued: elapsed(job.enqueued, start),
            decoded: elapsed(start, .now()))
        }
      }
    }
    var ready: [Prepared] = []
    for (job, result) in zip(live, results) {
      switch result! {
      case .success(let p): ready.append(p)
      case .failure(let error):
        metrics.decodeFailures.increment()
        job.done(.failure(error))
      }
    }
    return ready
  }

  /// Embeds the prepared images in one forward pass on the calling thread's share of threads and
  /// answers each job.
  private func embedAndAnswer(_ ready: [Prepared]) {
    guard !ready.isEmpty else { return }
    let windowsPerImage = extractor.windowCount(grid: configuration.grid)
    let start = DispatchTime.now()
    let means = extractor.imageEmbeddings(windows: ready.flatMap(\.windows), perImage: windowsPerImage)
    let seconds = elapsed(start, .now())
    metrics.recordBatch(images: ready.count, seconds: seconds)
    for (i, item) in ready.enumerated() {
      item.job.done(
        .success(
          EmbeddedImage(
            embedding: extractor.finished(means[i]), spectra: item.spectra, queued: item.queued, decoded: item.decoded,
            embedded: seconds, batch: ready.count)))
    }
  }
}

func seconds(_ d: Duration) -> Double {
  Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func elapsed(_ a: DispatchTime, _ b: DispatchTime) -> Double {
  Double(b.uptimeNanoseconds - a.uptimeNanoseconds) / 1e9
}
