// Elementwise kernels over raw Float32 buffers (Swift SIMD, 16 lanes), each with a plain scalar
// twin in `Reference` that the tests compare against. Buffers may alias (out == a) unless noted.
// Large buffers are split over ``Threads/count`` threads in 64-byte aligned chunks.

/// Fast elementwise kernels.
public enum Elementwise {
  /// The vector type of the kernels.
  public typealias V = SIMD16<Float>

  /// Splits `n` elements into chunks for the engine's threads and calls `body(start, count)`.
  @inline(__always)
  static func chunked(_ n: Int, _ body: (Int, Int) -> Void) {
    let threads = n >= 1 << 17 ? Threads.count : 1
    if threads <= 1 {
      body(0, n)
      return
    }
    let per = ((n + threads - 1) / threads + 15) & ~15
    Threads.parallelFor(threads) { t in
      let lo = t * per
      if lo < n { body(lo, min(per, n - lo)) }
    }
  }

  @inline(__always)
  static func map(
    _ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
    _ f: (V) -> V
  ) {
    chunked(n) { lo, count in
      let a = a + lo
      let out = out + lo
      var i = 0
      let araw = UnsafeRawPointer(a)
      let oraw = UnsafeMutableRawPointer(out)
      while i + 16 <= count {
        oraw.storeBytes(of: f(araw.loadUnaligned(fromByteOffset: i * 4, as: V.self)), toByteOffset: i * 4, as: V.self)
        i += 16
      }
      if i < count {
        var v = V(repeating: 0)
        for j in 0..<(count - i) { v[j] = a[i + j] }
        let r = f(v)
        for j in 0..<(count - i) { out[i + j] = r[j] }
      }
    }
  }

  @inline(__always)
  static func zip(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ n: Int, _ f: (V, V) -> V
  ) {
    chunked(n) { lo, count in
      let a = a + lo
      let b = b + lo
      let out = out + lo
      let araw = UnsafeRawPointer(a)
      let braw = UnsafeRawPointer(b)
      let oraw = UnsafeMutableRawPointer(out)
      var i = 0
      while i + 16 <= count {
        let r = f(
          araw.loadUnaligned(fromByteOffset: i * 4, as: V.self), braw.loadUnaligned(fromByteOffset: i * 4, as: V.self))
        oraw.storeBytes(of: r, toByteOffset: i * 4, as: V.self)
        i += 16
      }
      if i < count {
        var va = V(repeating: 0)
        var vb = V(repeating: 0)
        for j in 0..<(count - i) {
          va[j] = a[i + j]
          vb[j] = b[i + j]
        }
        let r = f(va, vb)
        for j in 0..<(count - i) { out[i + j] = r[j] }
      }
    }
  }

  /// out = a + b
  public static func add(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(a, b, out, n) { $0 + $1 }
  }
  /// out = a − b
  public static func sub(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(a, b, out, n) { $0 - $1 }
  }
  /// out = a · b
  public static func mul(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(a, b, out, n) { $0 * $1 }
  }
  /// out = s · a
  public static func scale(_ a: UnsafePointer<Float>, _ s: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { $0 * s }
  }
  /// out = max(a, 0)
  public static func relu(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { $0.replacing(with: 0, where: $0 .< 0) }
  }
  /// out = g where y > 0, else 0 (y is ReLU's output)
  public static func reluBackward(
    _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(g, y, out, n) { g, y in g.replacing(with: 0, where: y .<= 0) }
  }
  /// out = 1 / (1 + e^−a)
  public static func sigmoid(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { 1 / (1 + exp(-$0)) }
  }
  /// out = g · y · (1 − y) (y is the sigmoid's output)
  public static func sigmoidBackward(
    _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(g, y, out, n) { g, y in g * y * (1 - y) }
  }
  /// out = tanh(a)
  public static func tanh(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { Elementwise.tanh($0) }
  }
  /// out = g · (1 − y²) (y is tanh's output)
  public static func tanhBackward(
    _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    zip(g, y, out, n) { g, y in g * (1 - y * y) }
  }
  /// out = e^a
  public static func exp(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    map(a, out, n) { Elementwise.exp($0) }
  }

  /// Vectorised e^x (Cephes expf: range reduction by ln 2 and a degree-6 polynomial), relative error
  /// about 2 ulp; ∞ above the float range, 0 below the normal range.
  @inline(__always)
  public static func exp(_ x: V) -> V {
    // Clamping and rounding with compares and the 1.5·2²³ trick: the generic SIMD `clamped` and
    // `rounded` are lane loops on SIMD16 and made sigmoid 9× slower.
    var xc = x.replacing(with: V(repeating: -87.336), where: x .< -87.336)
    xc = xc.replacing(with: V(repeating: 88.722), where: xc .> 88.722)
    let shifted = xc * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    var r = xc - n * 0.693_359_375
    r = r + n * 2.121_944_4e-4
    var p = V(repeating: 1.987_569_1e-4)
    p = p * r + 1.398_199_9e-3
    p = p * r + 8.333_452e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    let rr = r * r
    let y = p * rr + r + 1
    // The integer n sits in the low mantissa bits of `shifted`; move it to the exponent field.
    let bits = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- (0x4B40_0000 - 127)) &<< 23
    return (y * unsafeBitCast(bits, to: V.self)).replacing(with: 0, where: x .< -87.336)
  }

  /// Vectorised tanh: a minimax polynomial near zero (Cephes tanhf), 1 − 2/(e^{2|x|} + 1) beyond.
  @inline(__always)
  public static func tanh(_ x: V) -> V {
    let ax = x.replacing(with: -x, where: x .< 0)
    let z = x * x
    var p = V(repeating: -5.704_988_7e-3)
    p = p * z + 2.063_908_9e-2
    p = p * z - 5.373_971_6e-2
    p = p * z + 1.333_144_2e-1
    p = p * z - 3.333_328_2e-1
    let small = p * z * x + x
    let e = exp(2 * ax)
    var large = 1 - 2 / (e + 1)
    large = large.replacing(with: -large, where: x .< 0)
    return small.replacing(with: large, where: ax .>= 0.625)
  }

  /// Σ a
  public static func sum(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(a)
    while i + 16 <= n {
      acc += raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
      i += 16
    }
    var s = acc.sum()
    while i < n {
      s += a[i]
      i += 1
    }
    return s
  }

  /// Σ (a − b)²
  public static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V(repeating: 0)
    var i = 0
    let ra = UnsafeRawPointer(a)
    let rb = UnsafeRawPointer(b)
    while i + 16 <= n {
      let d = ra.loadUnaligned(fromByteOffset: i * 4, as: V.self) - rb.loadUnaligned(fromByteOffset: i * 4, as: V.self)
      acc += d * d
      i += 16
    }
    var s = acc.sum()
    while i < n {
      let d = a[i] - b[i]
      s += d * d
      i += 1
    }
    return s
  }

  /// Σ a²
  public static func sumOfSquares(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(a)
    while i + 16 <= n {
      let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
      acc += v * v
      i += 16
    }
    var s = acc.sum()
    while i < n {
      s += a[i] * a[i]
      i += 1
    }
    return s
  }
}

/// Plain scalar twins of the fast kernels, generic so that gradient checks can run them in Float64.
public enum Reference {
  public static func relu<T: BinaryFloatingPoint>(_ a: [T]) -> [T] { a.map { max($0, 0) } }
  public static func sigmoid<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ a: [T]) -> [T] {
    a.map { 1 / (1 + T.expShim(-$0)) }
  }
  public static func tanh<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ a: [T]) -> [T] {
    a.map { T.tanhShim($0) }
  }
  public static func exp<T: BinaryFloatingPoint & ElementaryFunctionsShim>(_ a: [T]) -> [T] { a.map { T.expShim($0) } }
  public static func sum<T: BinaryFloatingPoint>(_ a: [T]) -> T { a.reduce(0, +) }
}

/// exp, log and tanh for the generic reference kernels (Float and Double).
public protocol ElementaryFunctionsShim {
  static func expShim(_ x: Self) -> Self
  static func logShim(_ x: Self) -> Self
  static func tanhShim(_ x: Self) -> Self
  static func sqrtShim(_ x: Self) -> Self
}

#if canImport(Glibc)
  import Glibc
#endif

extension Float: ElementaryFunctionsShim {
  public static func expShim(_ x: Float) -> Float { Glibc.expf(x) }
  public static func logShim(_ x: Float) -> Float { Glibc.logf(x) }
  public static func tanhShim(_ x: Float) -> Float { Glibc.tanhf(x) }
  public static func sqrtShim(_ x: Float) -> Float { x.squareRoot() }
}

extension Double: ElementaryFunctionsShim {
  public static func expShim(_ x: Double) -> Double { Glibc.exp(x) }
  public static func logShim(_ x: Double) -> Double { Glibc.log(x) }
  public static func tanhShim(_ x: Double) -> Double { Glibc.tanh(x) }
  public static func sqrtShim(_ x: Double) -> Double { x.squareRoot() }
}
