import Dispatch

/// Optional accounting of floating-point work and time per kernel family (for benchmarks: achieved
/// GFLOP/s of the convolutions against the machine's peak). Off by default; counts on any thread, and
/// kernels running on several threads at once each add their own time.
public enum KernelStats {
  private static let isOn = Locked(false)
  private static let totals = Locked<[String: (flops: Double, seconds: Double)]>([:])

  /// Whether kernels record their work.
  public static var enabled: Bool {
    get { isOn.current }
    set { isOn.current = newValue }
  }

  /// Floating-point operations and seconds recorded for `family` ("conv" covers forward, data
  /// gradient and weight gradient of convolutions and transposed convolutions).
  public static func total(_ family: String) -> (flops: Double, seconds: Double) {
    totals.withLock { $0[family] ?? (0, 0) }
  }

  /// Clears every total.
  public static func reset() { totals.withLock { $0 = [:] } }

  /// Runs `body`, recording `flops` and its wall time under `family` when enabled.
  @inline(__always)
  static func measure(_ family: String, flops: @autoclosure () -> Double, _ body: () -> Void) {
    guard enabled else { return body() }
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let f = flops()
    totals.withLock { t in
      let previous = t[family] ?? (0, 0)
      t[family] = (previous.flops + f, previous.seconds + s)
    }
  }
}
