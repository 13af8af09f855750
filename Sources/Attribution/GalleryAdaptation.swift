// A second whitening, fitted on a gallery's own enrolled images, for 1:N identification.
//
// The extractor's whitening (Fingerprint.EmbeddingWhitening) makes the within-model scatter of synthetic
// models the identity. A gallery of real generators has its own within-model scatter (content, JPEG,
// resizing of those sources) that synthetic models do not show. Mixing the two, as a Bayesian estimate
// with the synthetic scatter as the prior, and whitening the mix adapts the metric to the gallery
// without retraining and without looking at any query:
//
//   M = (1 − α) · I + α · S,   S = within-model scatter of the enrolled embeddings (per image),
//   α = n / (n + D),           n = Σ_models (images − 1), D = embedding width,
//
// i.e. the prior counts as D images' worth of evidence (the smallest inverse-Wishart prior that is
// proper), so a gallery of few images stays close to the synthetic metric and a large one trusts itself.
// Embeddings map to e · M^(−1/2).
//
// Verification in a gallery's context also centres. Real generators' embeddings share a large common
// component that synthetic ones lack (on dev-real the mean embedding's norm is 0.6 of an embedding's,
// on the synthetic models the whitening was fitted on 0.08), and it is not the same for every set of
// sources, so no fixed vector removes it. Identification ranks the fingerprints for one query, and a
// component common to all of them moves every candidate alike; verification pools scores of many
// images against one threshold, and there each image's share of the common component shifts its
// scores. A pair is therefore scored as the cosine of (ê − c) · M^(−1/2), with ê the normalised
// embedding and c the mean over the gallery's models of their mean normalised embedding (each model
// weighs the same, however many images it enrolled).
//
// The open-set decision pools scores in the same way (every query's best score against one threshold),
// so it is taken in the same context: identification still ranks the models in the adapted metric, and
// the best model's score for the decision is the cosine of (ê − c) · M^(−1/2) with that model's
// fingerprint centred the same way. Fingerprints are stored normalised (f̂ = m / ‖m‖ for the model's mean
// normalised embedding m), which scales a model's share of the common component by 1 / ‖m‖; they are
// therefore centred on c_f, the mean of the fingerprints themselves, which is c scaled alike when the
// ‖m‖ are close (measured: within noise of centring the unscaled means on dev-real and dev).

import COpenBLAS
import Evaluation
import Fingerprint
import Foundation
import Spectral

/// The gallery-adapted metric: `e ↦ e · B` with `B = M^(−1/2)` (see the file's header for M).
public struct GalleryAdaptation: Equatable, Sendable {
  /// B: D × D, row-major; output j is Σᵢ eᵢ B[i, j].
  public let matrix: [Float]
  /// The weight α given to the gallery's scatter.
  public let weight: Double
  /// n: the within-model degrees of freedom the gallery's scatter was estimated from.
  public let degreesOfFreedom: Int
  /// c: the mean over the gallery's models of their mean normalised embedding (D values), which
  /// verification subtracts; all zero when the fit saw a single model (there is nothing common to
  /// remove, and removing that model's own mean would leave only its noise).
  public let centre: [Float]

  /// Embedding width D.
  public var dimension: Int { Int(Double(matrix.count).squareRoot()) }

  /// α for `n` within-model degrees of freedom in `d` dimensions: n / (n + d).
  public static func weight(degreesOfFreedom n: Int, dimension d: Int) -> Double {
    n <= 0 ? 0 : Double(n) / Double(n + d)
  }

  /// Fits the adaptation on enrolled `embeddings` grouped by `labels` (the extractor's output, whitened
  /// by its synthetic whitening). Returns nil when no model has two or more images (nothing to estimate
  /// a scatter from: the synthetic metric is used as is).
  ///
  /// - Throws: ``WhiteningError`` when the embeddings are of different widths, hold a value that is not
  ///   finite, or the eigendecomposition fails.
  public static func fit(_ embeddings: [[Float]], labels: [Int]) throws -> GalleryAdaptation? {
    precondition(
      embeddings.count == labels.count, "GalleryAdaptation.fit: \(embeddings.count) embeddings, \(labels.count) labels")
    guard let d = embeddings.first?.count, d > 0 else { return nil }
    guard embeddings.allSatisfy({ $0.count == d }) else {
      throw WhiteningError.badShape("the enrolled embeddings are not all of one width")
    }
    let groups = Dictionary(grouping: embeddings.indices, by: { labels[$0] }).values.filter { $0.count >= 2 }
    let n = groups.reduce(0) { $0 + $1.count - 1 }
    guard n > 0 else { return nil }
    let images = groups.reduce(0) { $0 + $1.count }
    let centre = Self.centre(embeddings, labels: labels)
    let grouped = groups.map { idx in idx.map { embeddings[$0].map(Double.init) } }
    var s = WithinModelScatter.lowerTriangle(grouped, dimension: d, divisor: Double(images))
    guard s.allSatisfy(\.isFinite) else { throw WhiteningError.badShape("an enrolled embedding is not finite") }
    let alpha = weight(degreesOfFreedom: n, dimension: d)
    for a in 0..<d {
      for b in 0...a { s[a * d + b] *= alpha }
      s[a * d + a] += 1 - alpha
    }
    // Filled as a lower triangle in row-major order, which LAPACK (column-major) reads as the upper one.
    for a in 0..<d { for b in 0..<a { s[b * d + a] = s[a * d + b] } }
    let (values, vectors): ([Double], [Double])
    do { (values, vectors) = try SymmetricEigen.decompose(&s, n: d, vectors: true) } catch {
      throw WhiteningError.eigen("\(error)")
    }
    // B = V Λ^(−1/2) Vᵀ (symmetric, so row- or column-major alike); M ⪰ (1 − α) I keeps λ away from 0.
    // LAPACK returns eigenvector k as the k-th run of d values: read row-major, U's rows are the
    // eigenvectors, and B = Uᵀ (Λ^(−1/2) U), one dgemm: as a scalar loop these d³ multiply-adds took
    // half a second at d = 1024 (an ensemble of four's width), longer than the identification itself.
    var scaled = vectors
    for k in 0..<d {
      let w = 1 / max(values[k], 1 - alpha).squareRoot()
      for j in 0..<d { scaled[k * d + j] *= w }
    }
    var bm = [Double](repeating: 0, count: d * d)
    cblas_dgemm(
      CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, vectors, Int32(d), scaled, Int32(d), 0,
      &bm, Int32(d))
    return GalleryAdaptation(matrix: bm.map { Float($0) }, weight: alpha, degreesOfFreedom: n, centre: centre)
  }

  /// c of the file's header: the mean over labels of each label's mean normalised embedding, in Float64;
  /// zeros for fewer than two labels.
  static func centre(_ embeddings: [[Float]], labels: [Int]) -> [Float] {
    let d = embeddings[0].count
    let groups = Dictionary(grouping: embeddings.indices, by: { labels[$0] }).values
    guard groups.count >= 2 else { return [Float](repeating: 0, count: d) }
    var sum = [Double](repeating: 0, count: d)
    for idx in groups {
      var mean = [Double](repeating: 0, count: d)
      for i in idx {
        let u = Vectors.normalised(embeddings[i])
        for j in 0..<d { mean[j] += Double(u[j]) }
      }
      for j in 0..<d { sum[j] += mean[j] / Double(idx.count) }
    }
    return sum.map { Float($0 / Double(groups.count)) }
  }

  /// The 1:1 score of two embeddings in the gallery's context: the cosine of their centred, adapted
  /// images (the file's header). Symmetric; in [−1, 1].
  public func verificationScore(_ a: [Float], _ b: [Float]) -> Float {
    let d = dimension
    precondition(
      a.count == d && b.count == d, "GalleryAdaptation.verificationScore: width \(d), got \(a.count) and \(b.count)")
    return Vectors.cosine(centred(a), centred(b))
  }

  /// (ê − c) · M^(−1/2) for one embedding.
  func centred(_ e: [Float]) -> [Float] {
    let u = Vectors.normalised(e)
    return self(zip(u, centre).map { $0 - $1 })
  }

  /// A query in the gallery's context, normalised: the open-set decision's side of the cosine.
  public func contextQuery(_ e: [Float]) -> [Float] {
    precondition(e.count == dimension, "GalleryAdaptation.contextQuery: width \(dimension), got \(e.count)")
    return Vectors.normalised(centred(e))
  }

  /// c_f of the file's header: the mean of normalised fingerprints (rows [n, D], row-major); zeros for
  /// fewer than two (one model has nothing in common with another to remove).
  public static func fingerprintCentre(rows: [Float], dimension d: Int) -> [Float] {
    precondition(d > 0 && rows.count % d == 0, "fingerprintCentre: \(rows.count) values are not rows of \(d)")
    let n = rows.count / d
    guard n >= 2 else { return [Float](repeating: 0, count: d) }
    var sum = [Double](repeating: 0, count: d)
    for r in 0..<n { for j in 0..<d { sum[j] += Double(rows[r * d + j]) } }
    return sum.map { Float($0 / Double(n)) }
  }

  /// Many embeddings in the gallery's context at once (one sgemm), each what ``contextQuery(_:)`` gives it.
  public func contextQueries(_ embeddings: [[Float]]) -> [[Float]] {
    let d = dimension
    var rows: [Float] = []
    rows.reserveCapacity(embeddings.count * d)
    for e in embeddings {
      precondition(e.count == d, "GalleryAdaptation.contextQueries: width \(d), got \(e.count)")
      rows += zip(Vectors.normalised(e), centre).map { $0 - $1 }
    }
    return mappedRows(rows)
  }

  /// Normalised fingerprints (rows [n, D], row-major) in the gallery's context, one array per row: each
  /// f ↦ (f − `centre`) · M^(−1/2), normalised; `centre` is ``fingerprintCentre(rows:dimension:)`` of the
  /// gallery's fingerprints.
  public func contextFingerprints(rows: [Float], centre: [Float]) -> [[Float]] {
    let d = dimension
    precondition(centre.count == d && rows.count % d == 0, "contextFingerprints: rows of \(d) and a centre of \(d)")
    var shifted = rows
    for i in shifted.indices { shifted[i] -= centre[i % d] }
    return mappedRows(shifted)
  }

  /// Rows [n, D] mapped by M^(−1/2) in one sgemm, each normalised.
  private func mappedRows(_ rows: [Float]) -> [[Float]] {
    let d = dimension
    let mapped = apply(rows: rows)
    return (0..<(rows.count / d)).map { Vectors.normalised(Array(mapped[($0 * d)..<(($0 + 1) * d)])) }
  }

  /// Rows [n, D] row-major mapped at once (one sgemm: a gallery's fingerprints).
  public func apply(rows: [Float]) -> [Float] {
    let d = dimension
    precondition(rows.count % d == 0, "GalleryAdaptation.apply: \(rows.count) values are not rows of \(d)")
    let n = rows.count / d
    var out = [Float](repeating: 0, count: rows.count)
    guard n > 0 else { return out }
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(d), 1, rows, Int32(d), matrix, Int32(d), 0,
      &out, Int32(d))
    return out
  }

  /// The adapted embedding (D values in, D out).
  public func callAsFunction(_ e: [Float]) -> [Float] {
    let d = dimension
    precondition(e.count == d, "GalleryAdaptation of width \(d) got \(e.count) values")
    var out = [Float](repeating: 0, count: d)
    for i in 0..<d where e[i] != 0 {
      let row = i * d
      for j in 0..<d { out[j] += e[i] * matrix[row + j] }
    }
    return out
  }
}

/// How a gallery scores 1:N identification.
public enum GalleryMetric: String, Sendable, CaseIterable {
  /// The metric a new gallery of `extractor`'s embeddings gets: the adaptation's prior is the synthetic
  /// within-model scatter the extractor's whitening made the identity, so only a whitened extractor has one.
  public static func `default`(for extractor: Extractor) -> GalleryMetric {
    extractor.whitening == nil ? .synthetic : .gallery
  }

  /// In the metric adapted to the gallery's enrolled images (``GalleryAdaptation``): new galleries.
  case gallery
  /// In the extractor's own metric (galleries made before the adaptation existed).
  case synthetic
}
