// The Fréchet distance between two Gaussians fitted to sets of vectors, as in FID (Heusel et al.,
// 2017) and the Fréchet Frequency Distance of the paper: d² = |μ1 − μ2|² + Tr(Σ1 + Σ2 − 2·(Σ1Σ2)^½).
//
// Shapes: a set is N vectors of dimension d ([N, d]); means are [d]; covariances d×d, row-major.
// Everything runs in Float64. Tr (Σ1Σ2)^½ is computed without a non-symmetric matrix square root
// (scipy's `sqrtm`, whose result picks up imaginary rounding noise): Σ1Σ2 is similar to
// Σ1^½ Σ2 Σ1^½, which is symmetric positive semi-definite, so the trace is the sum of the square roots
// of its eigenvalues. With Σ1 = V Λ Vᵀ, Σ1^½ Σ2 Σ1^½ is similar again to Λ^½ (Vᵀ Σ2 V) Λ^½, which is
// what is decomposed. Eigenvalues that rounding pushes slightly below zero are clamped to 0.

import COpenBLAS
import Foundation
import Tensor

/// What was wrong with the input of a Fréchet distance, and what to do about it.
public enum FrechetDistanceError: Error, Equatable, CustomStringConvertible, LocalizedError {
  /// A covariance needs at least two vectors (it divides by N − 1).
  case tooFewVectors(set: String, count: Int)
  /// The vectors have no components.
  case emptyVectors(set: String)
  /// A vector's length differs from the first vector's.
  case raggedVectors(set: String, index: Int, expected: Int, found: Int)
  /// A component is NaN or infinite.
  case nonFinite(set: String, vector: Int, component: Int)
  /// The values are so large that the covariance overflows Float64.
  case covarianceOverflow(set: String)
  /// The two sets have different dimensions.
  case dimensionMismatch(first: Int, second: Int)
  /// LAPACK could not decompose a covariance (missing library or no convergence).
  case eigendecompositionFailed(reason: String)

  public var description: String {
    switch self {
    case .tooFewVectors(let set, let count):
      return "\(set) has \(count) vector\(count == 1 ? "" : "s"); a covariance needs at least 2: "
        + "give it more samples"
    case .emptyVectors(let set):
      return "\(set) has vectors of dimension 0; give vectors with at least one component"
    case .raggedVectors(let set, let index, let expected, let found):
      return "\(set): vector \(index) has \(found) components but vector 0 has \(expected); "
        + "all vectors of a set must have the same length"
    case .nonFinite(let set, let vector, let component):
      return "\(set): component \(component) of vector \(vector) is NaN or infinite; "
        + "remove that sample or fix what produced it"
    case .covarianceOverflow(let set):
      return "\(set): the covariance overflows (values too large); rescale the vectors"
    case .dimensionMismatch(let first, let second):
      return "the first set has dimension \(first) and the second \(second); "
        + "compare vectors produced the same way (same feature extractor, same image size)"
    case .eigendecompositionFailed(let reason):
      return "eigendecomposition of a covariance failed: \(reason)"
    }
  }

  public var errorDescription: String? { description }
}

/// The Fréchet distance between Gaussians fitted to two sets of vectors (FID, Fréchet Frequency Distance).
public enum FrechetDistance {
  /// The mean and unbiased covariance (divided by N − 1, as `numpy.cov`) of a set of vectors.
  ///
  /// Fit a reference set once and compare many sets against it with ``squared(_:_:)``.
  public struct Statistics: Sendable {
    /// The number of vectors N.
    public let count: Int
    /// The mean vector, [d].
    public let mean: [Double]
    /// The covariance, d×d row-major.
    public let covariance: [Double]
    /// The dimension d.
    public var dimension: Int { mean.count }

    /// Fits a set given as rows: `vectors` is N rows of d values.
    ///
    /// - Parameter name: how errors refer to this set ("the real images", "the first set").
    /// - Throws: ``FrechetDistanceError`` for fewer than 2 vectors, no components, rows of different
    ///   lengths, or values that are not finite.
    public init<T: BinaryFloatingPoint>(vectors: [[T]], name: String = "the set") throws {
      let d = vectors.first?.count ?? 0
      var flat = [Double]()
      flat.reserveCapacity(vectors.count * d)
      for (i, v) in vectors.enumerated() {
        guard v.count == d else {
          throw FrechetDistanceError.raggedVectors(set: name, index: i, expected: d, found: v.count)
        }
        flat.append(contentsOf: v.lazy.map { Double($0) })
      }
      try self.init(rows: flat, count: vectors.count, dimension: d, name: name)
    }

    /// Fits a set given as a tensor [N, d] (for example embeddings or 1-D spectra, one per row).
    public init(vectors: Tensor, name: String = "the set") throws {
      precondition(vectors.shape.rank == 2, "Fréchet statistics need vectors as [N, d], got \(vectors.shape)")
      try self.init(
        rows: vectors.array.map(Double.init), count: vectors.shape[0], dimension: vectors.shape[1], name: name)
    }

    private init(rows x: [Double], count n: Int, dimension d: Int, name: String) throws {
      guard n >= 2 else { throw FrechetDistanceError.tooFewVectors(set: name, count: n) }
      guard d >= 1 else { throw FrechetDistanceError.emptyVectors(set: name) }
      if let bad = x.firstIndex(where: { !$0.isFinite }) {
        throw FrechetDistanceError.nonFinite(set: name, vector: bad / d, component: bad % d)
      }
      var mean = [Double](repeating: 0, count: d)
      for i in 0..<n {
        for j in 0..<d { mean[j] += x[i * d + j] }
      }
      for j in 0..<d { mean[j] /= Double(n) }
      var centred = x
      for i in 0..<n {
        for j in 0..<d { centred[i * d + j] -= mean[j] }
      }
      // Σ = XᵀX / (N − 1) with X the centred N×d rows.
      var cov = [Double](repeating: 0, count: d * d)
      centred.withUnsafeBufferPointer { x in
        cov.withUnsafeMutableBufferPointer { c in
          // Bands of rows of Σ, one per thread.
          Threads.ranges(d, work: d * d * n) { r in
            cblas_dgemm(
              CblasRowMajor, CblasTrans, CblasNoTrans, Int32(r.count), Int32(d), Int32(n), 1 / Double(n - 1),
              x.baseAddress! + r.lowerBound, Int32(d), x.baseAddress!, Int32(d), 0, c.baseAddress! + r.lowerBound * d,
              Int32(d))
          }
        }
      }
      guard cov.allSatisfy({ $0.isFinite }) else { throw FrechetDistanceError.covarianceOverflow(set: name) }
      self.count = n
      self.mean = mean
      self.covariance = cov
    }
  }

  /// d² = |μ1 − μ2|² + Tr(Σ1 + Σ2 − 2·(Σ1Σ2)^½) between two fitted sets.
  ///
  /// This is the squared distance, the number FID reports. Rounding can make it a tiny negative number
  /// for (nearly) identical sets.
  /// - Throws: ``FrechetDistanceError/dimensionMismatch(first:second:)``, or
  ///   ``FrechetDistanceError/eigendecompositionFailed(reason:)`` if LAPACK fails.
  public static func squared(_ a: Statistics, _ b: Statistics) throws -> Double {
    guard a.dimension == b.dimension else {
      throw FrechetDistanceError.dimensionMismatch(first: a.dimension, second: b.dimension)
    }
    let d = a.dimension
    var meanTerm = 0.0
    for j in 0..<d { meanTerm += (a.mean[j] - b.mean[j]) * (a.mean[j] - b.mean[j]) }
    var traces = 0.0
    for j in 0..<d { traces += a.covariance[j * d + j] + b.covariance[j * d + j] }
    return meanTerm + traces - 2 * (try traceOfSquareRootOfProduct(a.covariance, b.covariance, d))
  }

  /// d² between two sets of vectors given as tensors [N1, d] and [N2, d].
  public static func squared(_ a: Tensor, _ b: Tensor) throws -> Double {
    try squared(Statistics(vectors: a, name: "the first set"), Statistics(vectors: b, name: "the second set"))
  }

  /// d² between two sets of vectors given as rows.
  public static func squared<T: BinaryFloatingPoint>(_ a: [[T]], _ b: [[T]]) throws -> Double {
    try squared(Statistics(vectors: a, name: "the first set"), Statistics(vectors: b, name: "the second set"))
  }

  /// Tr (Σ1Σ2)^½ for symmetric positive semi-definite Σ1, Σ2 (d×d, row-major).
  static func traceOfSquareRootOfProduct(_ s1: [Double], _ s2: [Double], _ d: Int) throws -> Double {
    do {
      var work = s1
      let (lambda, v) = try SymmetricEigen.decompose(&work, n: d, vectors: true)
      let root = lambda.map { max($0, 0).squareRoot() }
      // `v` read row-major is Vᵀ (its rows are the eigenvectors): B = Vᵀ Σ2 V.
      var t = [Double](repeating: 0, count: d * d)
      Self.multiply(s2, v, transposeB: true, into: &t, d)
      var bMatrix = [Double](repeating: 0, count: d * d)
      Self.multiply(v, t, transposeB: false, into: &bMatrix, d)
      // M = Λ^½ B Λ^½, symmetrised so rounding in B cannot make it non-symmetric.
      var m = [Double](repeating: 0, count: d * d)
      for i in 0..<d {
        for j in 0..<d { m[i * d + j] = root[i] * root[j] * 0.5 * (bMatrix[i * d + j] + bMatrix[j * d + i]) }
      }
      let (mu, _) = try SymmetricEigen.decompose(&m, n: d, vectors: false)
      return mu.reduce(0) { $0 + max($1, 0).squareRoot() }
    } catch EigenFailure.unavailable {
      throw FrechetDistanceError.eigendecompositionFailed(
        reason: "LAPACK's dsyevd_ is not in the process; install OpenBLAS with LAPACK (scripts/setup.sh)")
    } catch EigenFailure.lapack(let info) {
      throw FrechetDistanceError.eigendecompositionFailed(
        reason: info < 0
          ? "argument \(-info) to dsyevd_ was invalid (a bug in ModelPrint; please report it)"
          : "dsyevd_ did not converge (info \(info)); check the vectors for extreme values")
    }
  }

  /// c = a · b (or a · bᵀ) for d × d row-major matrices, in bands of rows of c, one per thread.
  static func multiply(_ a: [Double], _ b: [Double], transposeB: Bool, into c: inout [Double], _ d: Int) {
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          Threads.ranges(d, work: d * d * d) { r in
            cblas_dgemm(
              CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(r.count), Int32(d), Int32(d),
              1, a.baseAddress! + r.lowerBound * d, Int32(d), b.baseAddress!, Int32(d), 0,
              c.baseAddress! + r.lowerBound * d, Int32(d))
          }
        }
      }
    }
  }
}
