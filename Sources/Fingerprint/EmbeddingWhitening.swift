import Foundation
import Spectral

/// Within-class covariance normalisation (WCCN) of image embeddings, fitted on images of synthetic
/// models: `e ↦ (e/‖e‖ − μ) · A`, where μ is the mean of the normalised embeddings and
/// `A = V Λ^(−1/2)` whitens their (shrunk) within-model covariance `W = V Λ Vᵀ`.
///
/// The extractor's pooled features come after a ReLU, so all of them are positive and any two images'
/// cosine lies around 0.85–0.98: the directions along which images of one model vary (content) swamp
/// those that tell models apart. Centring removes the common direction and whitening the within-model
/// scatter scales down what varies inside a model. Fitted on synthetic models only (best on models the
/// extractor never trained on, e.g. other seeds), it stays zero-shot: nothing about a real generator or an
/// enrolled gallery enters it.
public struct EmbeddingWhitening: Equatable, Sendable {
  /// Format of the transform as stored in a checkpoint's metadata (`embedding_transform`).
  public static let kind = "wccn-v1"

  /// μ: the mean normalised embedding, D values.
  public let mean: [Float]
  /// A: D × D, row-major; output j is Σᵢ (x̂ᵢ − μᵢ) A[i, j].
  public let matrix: [Float]

  /// Embedding width D.
  public var dimension: Int { mean.count }

  /// A transform from its stored values.
  ///
  /// - Throws: ``WhiteningError/badShape(_:)`` when `matrix` is not D × D for D = `mean.count`, or a value
  ///   is not finite.
  public init(mean: [Float], matrix: [Float]) throws {
    guard !mean.isEmpty, matrix.count == mean.count * mean.count else {
      throw WhiteningError.badShape("a mean of \(mean.count) values needs a \(mean.count)² matrix, got \(matrix.count)")
    }
    guard mean.allSatisfy(\.isFinite), matrix.allSatisfy(\.isFinite) else {
      throw WhiteningError.badShape("the mean or matrix holds a value that is not finite")
    }
    self.mean = mean
    self.matrix = matrix
  }

  /// Default shrinkage: the within-model covariance is regularised by `shrinkage · trace(W)/D · I` so that
  /// directions no training image spans are not blown up.
  public static let defaultShrinkage = 0.01

  /// Fits the transform on `embeddings` grouped by `labels` (one label per model).
  ///
  /// - Throws: ``WhiteningError/tooFew(models:images:)`` with fewer than 2 models of 2 or more images each,
  ///   ``WhiteningError/badShape(_:)`` for embeddings of different widths or non-finite values, and
  ///   ``WhiteningError/eigen(_:)`` when the decomposition fails.
  public static func fit(
    _ embeddings: [[Float]], labels: [Int], shrinkage: Double = defaultShrinkage
  ) throws -> EmbeddingWhitening {
    precondition(embeddings.count == labels.count, "fit: \(embeddings.count) embeddings, \(labels.count) labels")
    let groups = Dictionary(grouping: embeddings.indices, by: { labels[$0] }).filter { $0.value.count >= 2 }
    let used = groups.values.reduce(0) { $0 + $1.count }
    guard groups.count >= 2 else { throw WhiteningError.tooFew(models: groups.count, images: used) }
    guard let d = embeddings.first?.count, d > 0, embeddings.allSatisfy({ $0.count == d }) else {
      throw WhiteningError.badShape("the embeddings are not all of one non-zero width")
    }
    guard shrinkage.isFinite, shrinkage > 0 else {
      throw WhiteningError.badShape("shrinkage must be a positive number, got \(shrinkage)")
    }
    func unit(_ e: [Float]) -> [Double] {
      let n = (e.reduce(0) { $0 + Double($1) * Double($1) }).squareRoot()
      return e.map { Double($0) / max(n, 1e-12) }
    }
    let units = groups.values.map { idx in idx.map { unit(embeddings[$0]) } }
    var mu = [Double](repeating: 0, count: d)
    for xs in units { for x in xs { for j in 0..<d { mu[j] += x[j] / Double(used) } } }
    var w = WithinModelScatter.lowerTriangle(units, dimension: d, divisor: Double(used))
    guard mu.allSatisfy(\.isFinite), w.allSatisfy(\.isFinite) else {
      throw WhiteningError.badShape("an embedding holds a value that is not finite")
    }
    for i in 0..<d { for j in 0..<i { w[j * d + i] = w[i * d + j] } }
    let trace = (0..<d).reduce(0) { $0 + w[$1 * d + $1] }
    let ridge = shrinkage * max(trace, 1e-12) / Double(d)
    for i in 0..<d { w[i * d + i] += ridge }
    let (values, vectors): ([Double], [Double])
    do { (values, vectors) = try SymmetricEigen.decompose(&w, n: d, vectors: true) } catch {
      throw WhiteningError.eigen("\(error)")
    }
    // Column k of the column-major eigenvectors, divided by √λ_k, is column k of A.
    var a = [Float](repeating: 0, count: d * d)
    for k in 0..<d {
      let s = 1 / max(values[k], ridge).squareRoot()
      for i in 0..<d { a[i * d + k] = Float(vectors[k * d + i] * s) }
    }
    return try EmbeddingWhitening(mean: mu.map { Float($0) }, matrix: a)
  }

  /// The transformed embedding (D values in, D out).
  public func callAsFunction(_ e: [Float]) -> [Float] {
    precondition(e.count == dimension, "EmbeddingWhitening of width \(dimension) got \(e.count) values")
    let n = (e.reduce(0) { $0 + Double($1) * Double($1) }).squareRoot()
    let inv = Float(1 / max(n, 1e-12))
    var out = [Float](repeating: 0, count: dimension)
    for i in 0..<dimension {
      let c = e[i] * inv - mean[i]
      if c == 0 { continue }
      let row = i * dimension
      for j in 0..<dimension { out[j] += c * matrix[row + j] }
    }
    return out
  }
}

/// Why a whitening could not be fitted or read.
public enum WhiteningError: Error, CustomStringConvertible, Equatable {
  case tooFew(models: Int, images: Int)
  case badShape(String)
  case eigen(String)

  public var description: String {
    switch self {
    case .tooFew(let models, let images):
      return "a whitening needs 2 or more models with 2 or more images each; got \(models) such models "
        + "(\(images) images): give a folder of model folders"
    case .badShape(let reason): return "whitening: \(reason)"
    case .eigen(let reason): return "whitening: the eigendecomposition failed (\(reason))"
    }
  }
}
