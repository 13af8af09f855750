import Dispatch

/// Optional accounting of floating-point work and time per kernel family (for benchmarks: achieved
/// GFLOP/s of the convolutions against the machine's peak). Off by default; counts on any thread.
public enum KernelStats {
  /// Whether kernels record their work.
  nonisolated(unsafe) public static var enabled = false
  nonisolated(unsafe) private static var totals: [String: (flops: Double, seconds: Double)] = [:]

  /// Floating-point operations and seconds recorded for `family` ("conv" covers forward, data
  /// gradient and weight gradient of convolutions and transposed convolutions).
  public static func total(_ family: String) -> (flops: Double, seconds: Double) { totals[family] ?? (0, 0) }

  /// Clears every total.
  public static func reset() { totals = [:] }

  /// Runs `body`, recording `flops` and its wall time under `family` when enabled.
  @inline(__always)
  static func measure(_ family: String, flops: @autoclosure () -> Double, _ body: () -> Void) {
    guard enabled else { return body() }
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let previous = totals[family] ?? (0, 0)
    totals[family] = (previous.flops + flops(), previous.seconds + s)
  }
}
