// Top-k cosine search over model fingerprints.
//
// Shapes: matrix [count, dimension] row-major Float32, rows L2-normalised; query [dimension]. One
// OpenBLAS sgemv gives all scores (memory-bound: 1 M fingerprints of 128 values stream 512 MB once), then
// a k-element min-heap keeps the best k in O(count · log k) without sorting everything.

import COpenBLAS
import Evaluation
import Tensor

/// Model fingerprints in one contiguous matrix, searched by cosine similarity.
public struct FingerprintIndex: Sendable {
  /// Values per fingerprint.
  public let dimension: Int
  /// One name per row.
  public private(set) var names: [String]
  /// Row-major [count, dimension], rows normalised.
  public private(set) var matrix: [Float]

  /// The number of fingerprints.
  public var count: Int { names.count }

  /// An empty index of `dimension`-value fingerprints.
  public init(dimension: Int) {
    precondition(dimension > 0, "FingerprintIndex: dimension must be positive, got \(dimension)")
    self.dimension = dimension
    names = []
    matrix = []
  }

  /// An index over a ready matrix [names.count, dimension]; rows are normalised here.
  public init(names: [String], matrix: [Float], dimension: Int) {
    precondition(
      dimension > 0 && matrix.count == names.count * dimension,
      "FingerprintIndex: matrix of \(matrix.count) values for \(names.count) × \(dimension)")
    self.dimension = dimension
    self.names = names
    self.matrix = matrix
    self.matrix.withUnsafeMutableBufferPointer { m in
      for r in 0..<names.count { Self.normalise(m.baseAddress! + r * dimension, dimension) }
    }
  }

  /// Adds a fingerprint (normalised here).
  public mutating func append(name: String, fingerprint: [Float]) {
    precondition(
      fingerprint.count == dimension, "FingerprintIndex.append: \(fingerprint.count) values, index holds \(dimension)")
    names.append(name)
    let start = matrix.count
    matrix += fingerprint
    matrix.withUnsafeMutableBufferPointer { Self.normalise($0.baseAddress! + start, dimension) }
  }

  /// Cosine similarity of the query with every fingerprint, in row order.
  public func scores(_ query: [Float]) -> [Float] {
    precondition(query.count == dimension, "FingerprintIndex: query of \(query.count) values, index holds \(dimension)")
    guard count > 0 else { return [] }
    let q = Vectors.normalised(query)
    var out = [Float](repeating: 0, count: count)
    matrix.withUnsafeBufferPointer { m in
      out.withUnsafeMutableBufferPointer { o in
        // Bands of rows, one per thread (memory-bound: each thread streams its own part).
        Threads.ranges(count, work: count * dimension) { r in
          cblas_sgemv(
            CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(dimension), 1,
            m.baseAddress! + r.lowerBound * dimension, Int32(dimension), q, 1, 0, o.baseAddress! + r.lowerBound, 1)
        }
      }
    }
    return out
  }

  /// The `k` best rows for the query, best first (ties: the earlier row first).
  public func top(_ k: Int, for query: [Float]) -> [(index: Int, score: Float)] {
    precondition(k >= 1, "FingerprintIndex.top: k must be at least 1, got \(k)")
    return Self.select(k, from: scores(query))
  }

  /// The `k` largest scores and their indices, best first, by a min-heap of size k.
  static func select(_ k: Int, from scores: [Float]) -> [(index: Int, score: Float)] {
    let k = min(k, scores.count)
    guard k > 0 else { return [] }
    // The heap's root is the worst kept entry; "worse" = lower score, or equal score and later index.
    func worse(_ a: (Int, Float), _ b: (Int, Float)) -> Bool { a.1 < b.1 || (a.1 == b.1 && a.0 > b.0) }
    var heap: [(Int, Float)] = []
    heap.reserveCapacity(k)
    func siftDown(_ start: Int) {
      var i = start
      while true {
        let l = 2 * i + 1
        let r = l + 1
        var m = i
        if l < heap.count && worse(heap[l], heap[m]) { m = l }
        if r < heap.count && worse(heap[r], heap[m]) { m = r }
        if m == i { return }
        heap.swapAt(i, m)
        i = m
      }
    }
    scores.withUnsafeBufferPointer { s in
      for i in 0..<s.count {
        let entry = (i, s[i])
        if heap.count < k {
          heap.append(entry)
          var c = heap.count - 1
          while c > 0 && worse(heap[c], heap[(c - 1) / 2]) {
            heap.swapAt(c, (c - 1) / 2)
            c = (c - 1) / 2
          }
        } else if worse(heap[0], entry) {
          heap[0] = entry
          siftDown(0)
        }
      }
    }
    return heap.sorted { worse($1, $0) }.map { (index: $0.0, score: $0.1) }
  }

  private static func normalise(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var s: Float = 0
    for j in 0..<n { s += p[j] * p[j] }
    let inv = 1 / max(s.squareRoot(), 1e-12)
    for j in 0..<n { p[j] *= inv }
  }
}
