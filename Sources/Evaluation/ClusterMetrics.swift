// Cluster quality of embeddings grouped by their source model.
//
// Shapes: n embeddings of d values; labels [n]. Both metrics work on L2-normalised embeddings in Float64.
// Silhouette follows `sklearn.metrics.silhouette_score(X, labels, metric="cosine")`: cosine distance
// 1 − cos clipped to [0, 2], a = mean distance to the other members of the own cluster, b = the smallest
// mean distance to another cluster, s = (b − a) / max(a, b), 0 for members of one-element clusters.
// Davies–Bouldin is `sklearn.metrics.davies_bouldin_score` (Euclidean by definition) applied to the
// normalised embeddings, so that it too depends only on directions, as the cosine scores do; on unit
// vectors the squared Euclidean distance is 2·(1 − cos).

import COpenBLAS
import Tensor

/// Silhouette and Davies–Bouldin scores.
public enum ClusterMetrics {
  /// The mean silhouette coefficient with cosine distance, in [−1, 1] (higher: tighter, better separated).
  public static func silhouette(_ embeddings: [[Float]], labels: [Int]) -> Double {
    let (x, n, d) = normalisedMatrix(embeddings, labels: labels)
    let classes = Array(Set(labels)).sorted()
    precondition(
      classes.count >= 2 && classes.count < n, "silhouette needs 2 ≤ clusters < samples, got \(classes.count) of \(n)")
    let cluster = labels.map { classes.firstIndex(of: $0)! }
    var sizes = [Int](repeating: 0, count: classes.count)
    for c in cluster { sizes[c] += 1 }
    // Row blocks of the Gram matrix keep memory at block × n whatever n is.
    let block = 256
    var gram = [Double](repeating: 0, count: block * n)
    var total = 0.0
    for r0 in stride(from: 0, to: n, by: block) {
      let rows = min(block, n - r0)
      x.withUnsafeBufferPointer { xp in
        gram.withUnsafeMutableBufferPointer { g in
          Threads.ranges(rows, work: rows * n * d) { r in
            cblas_dgemm(
              CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r.count), Int32(n), Int32(d), 1,
              xp.baseAddress! + (r0 + r.lowerBound) * d, Int32(d), xp.baseAddress!, Int32(d), 0,
              g.baseAddress! + r.lowerBound * n, Int32(n))
          }
        }
      }
      for r in 0..<rows {
        var sums = [Double](repeating: 0, count: classes.count)
        for j in 0..<n { sums[cluster[j]] += min(max(1 - gram[r * n + j], 0), 2) }
        let own = cluster[r0 + r]
        guard sizes[own] > 1 else { continue }
        let a = sums[own] / Double(sizes[own] - 1)
        var b = Double.infinity
        for c in classes.indices where c != own { b = min(b, sums[c] / Double(sizes[c])) }
        let denominator = max(a, b)
        if denominator > 0 { total += (b - a) / denominator }
      }
    }
    return total / Double(n)
  }

  /// The Davies–Bouldin index of the L2-normalised embeddings (lower: tighter, better separated): the mean
  /// over clusters of the largest (sᵢ + sⱼ) / ‖cᵢ − cⱼ‖, with centroids c the plain means of the normalised
  /// embeddings and s the mean Euclidean distance of a cluster's members to its centroid.
  public static func daviesBouldin(_ embeddings: [[Float]], labels: [Int]) -> Double {
    let (x, n, d) = normalisedMatrix(embeddings, labels: labels)
    let classes = Array(Set(labels)).sorted()
    precondition(
      classes.count >= 2 && classes.count < n,
      "Davies–Bouldin needs 2 ≤ clusters < samples, got \(classes.count) of \(n)")
    let cluster = labels.map { classes.firstIndex(of: $0)! }
    let k = classes.count
    var centroids = [Double](repeating: 0, count: k * d)
    var sizes = [Double](repeating: 0, count: k)
    for i in 0..<n {
      sizes[cluster[i]] += 1
      for j in 0..<d { centroids[cluster[i] * d + j] += x[i * d + j] }
    }
    for c in 0..<k { for j in 0..<d { centroids[c * d + j] /= sizes[c] } }
    func distance(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>) -> Double {
      zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }
    var spread = [Double](repeating: 0, count: k)
    for i in 0..<n {
      let c = cluster[i]
      spread[c] += distance(x[(i * d)..<((i + 1) * d)], centroids[(c * d)..<((c + 1) * d)])
    }
    for c in 0..<k { spread[c] /= sizes[c] }
    var between = [Double](repeating: 0, count: k * k)
    for a in 0..<k {
      for b in 0..<k {
        between[a * k + b] = distance(centroids[(a * d)..<((a + 1) * d)], centroids[(b * d)..<((b + 1) * d)])
      }
    }
    // scikit-learn's degenerate cases: np.allclose(…, 0) uses an absolute tolerance of 1e-8.
    if spread.allSatisfy({ abs($0) <= 1e-8 }) || between.allSatisfy({ abs($0) <= 1e-8 }) { return 0 }
    var total = 0.0
    for a in 0..<k {
      var worst = 0.0
      for b in 0..<k where between[a * k + b] != 0 { worst = max(worst, (spread[a] + spread[b]) / between[a * k + b]) }
      total += worst
    }
    return total / Double(k)
  }

  /// Row-major n × d Float64 matrix of the normalised embeddings.
  static func normalisedMatrix(_ embeddings: [[Float]], labels: [Int]) -> ([Double], Int, Int) {
    precondition(
      embeddings.count == labels.count, "cluster metrics: \(embeddings.count) embeddings, \(labels.count) labels")
    precondition(!embeddings.isEmpty, "cluster metrics: no embeddings")
    let n = embeddings.count
    let d = embeddings[0].count
    var x = [Double](repeating: 0, count: n * d)
    for (i, e) in embeddings.enumerated() {
      precondition(e.count == d, "cluster metrics: embeddings of \(d) and \(e.count) values")
      var norm = 0.0
      for v in e { norm += Double(v) * Double(v) }
      norm = norm.squareRoot()
      for j in 0..<d { x[i * d + j] = norm > 0 ? Double(e[j]) / norm : 0 }
    }
    return (x, n, d)
  }
}
