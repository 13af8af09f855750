// One-dimensional complex FFT plans (KissFFT, float), shared by every 2-D transform of the process.
//
// KissFFT's plan (`kiss_fft_cfg`) holds the factorisation and twiddles and is only read while a
// transform runs (scratch space for odd prime factors is allocated per call), so one plan can serve
// many threads at once; only creating and looking up plans takes the lock.

import CFFT
import Foundation

/// A forward complex FFT of one length, backed by a KissFFT plan.
///
/// Plans are immutable after creation and safe to use from several threads at once. Get them from
/// ``FFTPlan/forward(_:)``, which caches one per length.
final class FFTPlan: @unchecked Sendable {
  /// The transform length.
  let length: Int
  // nil for length 1, where the transform is the identity and KissFFT's factoriser has nothing to do.
  private let config: kiss_fft_cfg?

  private init(length: Int) {
    precondition(length >= 1, "FFT length must be at least 1, got \(length)")
    self.length = length
    if length == 1 {
      config = nil
    } else {
      guard let cfg = kiss_fft_alloc(Int32(length), 0, nil, nil) else {
        fatalError("KissFFT could not allocate a plan of length \(length) (out of memory)")
      }
      config = cfg
    }
  }

  deinit {
    // `kiss_fft_free` is a macro for `free`: the plan is one malloc'd block.
    if let config { free(UnsafeMutableRawPointer(config)) }
  }

  /// Transforms `length` complex values from `input` into `output` (distinct buffers), reading every
  /// `inputStride`-th input element: X[k] = Σₙ x[n]·e^(−2πi·kn/length).
  @inline(__always)
  func transform(
    _ input: UnsafePointer<kiss_fft_cpx>, _ output: UnsafeMutablePointer<kiss_fft_cpx>, inputStride: Int = 1
  ) {
    guard let config else {
      output[0] = input[0]
      return
    }
    if inputStride == 1 {
      kiss_fft(config, input, output)
    } else {
      kiss_fft_stride(config, input, output, Int32(inputStride))
    }
  }

  // Read and written only with `lock` held.
  nonisolated(unsafe) private static var cache: [Int: FFTPlan] = [:]
  private static let lock = NSLock()

  /// The cached forward plan of `length`, created on first use (thread-safe).
  static func forward(_ length: Int) -> FFTPlan {
    lock.lock()
    defer { lock.unlock() }
    if let plan = cache[length] { return plan }
    let plan = FFTPlan(length: length)
    cache[length] = plan
    return plan
  }
}
