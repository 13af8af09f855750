// Prometheus metrics of the service, exposed at /metrics in the text exposition format.

import Foundation
import Hummingbird
import Prometheus
import Tensor

/// The service's counters, gauges and histograms in one registry.
final class ServiceMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()
  let queueDepth: Gauge
  let imagesPerSecond: Gauge
  let images: Counter
  let batches: Counter
  let rejected: Counter
  let decodeFailures: Counter
  let batchSize: ValueHistogram
  /// Images embedded in each of the last seconds, for the images/s gauge.
  private let recent = Locked<[(time: Double, images: Int)]>([])

  init() {
    func d(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
      MetricNameDescriptor(namespace: "modelprint", metricName: name, unitName: unit, helpText: help)
    }
    queueDepth = registry.makeGauge(descriptor: d("queue_depth", "", "Requests waiting for an inference worker."))
    imagesPerSecond = registry.makeGauge(
      descriptor: d("images_per_second", "", "Images embedded per second over the last 10 seconds."))
    images = registry.makeCounter(descriptor: d("images_embedded", "total", "Images embedded."))
    batches = registry.makeCounter(descriptor: d("batches", "total", "Forward passes of the extractor."))
    rejected = registry.makeCounter(
      descriptor: d("queue_rejected", "total", "Requests refused with 503 because the queue was full."))
    decodeFailures = registry.makeCounter(
      descriptor: d("decode_failures", "total", "Uploads that did not decode as an image."))
    batchSize = registry.makeValueHistogram(
      descriptor: d("batch_images", "", "Images per forward pass."), buckets: [1, 2, 4, 8, 16, 32])
  }

  func recordBatch(images n: Int, seconds: Double) {
    images.increment(by: Int64(n))
    batches.increment()
    batchSize.record(Double(n))
    let now = Date().timeIntervalSince1970
    recent.withLock { r in
      r.append((now, n))
      r.removeAll { $0.time < now - 10 }
    }
  }

  /// Counts and timings of one answered request; `route` is the route's pattern, so that model names in
  /// paths do not make a series each.
  func recordRequest(route: String, method: String, status: Int, seconds: Double) {
    registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "modelprint", metricName: "http_requests", unitName: "total", helpText: "HTTP requests answered."),
      labels: [("route", route), ("method", method), ("status", "\(status)")]
    ).increment()
    registry.makeDurationHistogram(
      descriptor: MetricNameDescriptor(
        namespace: "modelprint", metricName: "http_request_duration", unitName: "seconds",
        helpText: "Time from the request's head to its answer."),
      labels: [("route", route)],
      buckets: [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
      ]
    ).recordNanoseconds(Int64(seconds * 1e9))
  }

  /// The exposition text, with the rate gauge brought up to date.
  func exposition() -> [UInt8] {
    let now = Date().timeIntervalSince1970
    let n = recent.withLock { r in
      r.removeAll { $0.time < now - 10 }
      return r.reduce(0) { $0 + $1.images }
    }
    imagesPerSecond.set(Double(n) / 10)
    return registry.emitToBuffer()
  }
}
