// Symmetric eigendecomposition in Float64 through LAPACK's `dsyevd_` (divide and conquer), which the
// OpenBLAS library the engine links already exports. The CBLAS header declares no LAPACK routines, so
// the symbol is looked up at run time with the Fortran calling convention: every argument by
// reference, and a hidden length per character argument at the end (gfortran ABI).
//
// Shapes: a is n×n, symmetric; only its lower triangle is read. Row- or column-major does not matter
// for a symmetric input; eigenvectors come back as the columns of a column-major n×n matrix.

import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why an eigendecomposition could not run.
public enum EigenFailure: Error {
  /// The LAPACK symbol is missing from the process.
  case unavailable
  /// LAPACK's `info`: negative for an invalid argument, positive when the algorithm did not converge.
  case lapack(info: Int32)
}

/// Eigendecomposition of a symmetric Float64 matrix (LAPACK `dsyevd_`).
public enum SymmetricEigen {
  private typealias Dsyevd =
    @convention(c) (
      UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafeMutablePointer<Double>,
      UnsafePointer<Int32>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafePointer<Int32>,
      UnsafeMutablePointer<Int32>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>, Int, Int
    ) -> Void

  private static let dsyevd: Dsyevd? = {
    // Linked through COpenBLAS, so normally visible in the global scope; the explicit open is a
    // fallback for a process that loaded OpenBLAS privately.
    let sym = dlsym(nil, "dsyevd_") ?? dlopen("libopenblas.so.0", RTLD_NOW).flatMap { dlsym($0, "dsyevd_") }
    return sym.map { unsafeBitCast($0, to: Dsyevd.self) }
  }()

  /// Eigenvalues (ascending) of the symmetric n×n matrix `a`, and with `vectors` its eigenvectors,
  /// column-major (column j belongs to eigenvalue j). `a` is overwritten.
  public static func decompose(_ a: inout [Double], n: Int, vectors: Bool) throws -> (
    values: [Double], vectors: [Double]
  ) {
    precondition(a.count == n * n, "matrix has \(a.count) entries, expected \(n)×\(n)")
    guard let dsyevd else { throw EigenFailure.unavailable }
    guard n > 0 else { return ([], []) }
    var values = [Double](repeating: 0, count: n)
    var info: Int32 = 0
    var size = Int32(n)
    let jobz: CChar = vectors ? 0x56 : 0x4E  // "V" or "N"
    let uplo: CChar = 0x4C  // "L"
    var query: Double = 0
    var iquery: Int32 = 0
    var minusOne: Int32 = -1
    withUnsafePointer(to: jobz) { jobz in
      withUnsafePointer(to: uplo) { uplo in
        dsyevd(jobz, uplo, &size, &a, &size, &values, &query, &minusOne, &iquery, &minusOne, &info, 1, 1)
      }
    }
    guard info == 0 else { throw EigenFailure.lapack(info: info) }
    var lwork = Int32(query.rounded(.up))
    var liwork = max(iquery, 1)
    var work = [Double](repeating: 0, count: Int(max(lwork, 1)))
    var iwork = [Int32](repeating: 0, count: Int(liwork))
    withUnsafePointer(to: jobz) { jobz in
      withUnsafePointer(to: uplo) { uplo in
        dsyevd(jobz, uplo, &size, &a, &size, &values, &work, &lwork, &iwork, &liwork, &info, 1, 1)
      }
    }
    guard info == 0 else { throw EigenFailure.lapack(info: info) }
    return (values, vectors ? a : [])
  }
}
