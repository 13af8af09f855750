import ArgumentParser
import Attribution
import Foundation
import Tensor

extension GalleryCommand {
  /// `modelprint gallery bench-search` (hidden): top-k search time in a large index of random fingerprints,
  /// the cost that grows with the number of enrolled models.
  struct BenchSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "bench-search",
      abstract: "Time top-k search in an index of random fingerprints.",
      shouldDisplay: false)

    @Option(help: "Fingerprints in the index.") var count = 1_000_000
    @Option(help: "Values per fingerprint.") var dim = 256
    @Option(help: "Timed queries; the median is reported.") var queries = 20
    @Option(help: "Models returned per query.") var top = 5
    @Option(help: "Seed of the random fingerprints.") var seed: UInt64 = 0
    @OptionGroup var common: CommonOptions

    func validate() throws {
      guard count >= 1, dim >= 1, queries >= 1, top >= 1 else {
        throw ValidationError("--count, --dim, --queries and --top must be at least 1")
      }
    }

    func run() throws {
      try common.apply()
      var rng = RNG(seed: seed)
      let start = DispatchTime.now().uptimeNanoseconds
      var matrix = [Float](repeating: 0, count: count * dim)
      for i in matrix.indices { matrix[i] = rng.normal() }
      let index = FingerprintIndex(names: (0..<count).map { "model-\($0)" }, matrix: matrix, dimension: dim)
      matrix = []
      let built = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      Log.info(String(format: "index of %d × %d built in %.1f s", count, dim, built))
      // One untimed query brings the matrix into the page tables before timing starts.
      _ = index.top(top, for: (0..<dim).map { _ in rng.normal() })
      var times: [Double] = []
      for _ in 0..<queries {
        let q = (0..<dim).map { _ in rng.normal() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let best = index.top(top, for: q)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        precondition(best.count == min(top, count), "bench-search: \(best.count) results")
      }
      times.sort()
      let median = queries % 2 == 1 ? times[queries / 2] : (times[queries / 2 - 1] + times[queries / 2]) / 2
      let gb = Double(count * dim * MemoryLayout<Float>.size) / 1e9
      print(
        String(
          format: "top-%d of %d × %d fingerprints, %d queries, %d threads: median %.2f ms (min %.2f, max %.2f), "
            + "%.1f GB/s", top, count, dim, queries, Threads.count, median, times[0], times[queries - 1],
          gb / (median / 1e3)))
    }
  }
}
