/// Finite-difference gradient checking: the engine's analytic gradients (Float32, fast kernels,
/// autodiff) against central differences of a Float64 reference forward (ggml's "grad" mode).
///
/// The objective is L = Σ y·G for a fixed random G, so every output element contributes.
public enum GradientCheck {
  /// One input's worst deviation.
  public struct Result: CustomStringConvertible {
    public var input: Int
    public var element: Int
    public var analytic: Double
    public var numeric: Double
    /// |analytic − numeric| / max(|numeric|, RMS of the input's numeric gradients, 1e-3 · overall RMS).
    public var error: Double
    /// Forward output error relative to the reference output's RMS.
    public var forwardError: Double

    public var description: String {
      "input \(input) element \(element): analytic \(analytic), numeric \(numeric) (error \(error)); forward error \(forwardError)"
    }
  }

  /// Checks `fast` against `reference`.
  ///
  /// - Parameters:
  ///   - inputs: Float32 values of every input (shapes as `fast` expects; plain layout).
  ///   - layout: the layout activations (4-D inputs shaped like the first) take before `fast` runs.
  ///   - fast: the op under test.
  ///   - reference: the same function on Float64 row-major arrays, output row-major.
  ///   - samples: elements checked per input (all when the input is smaller).
  /// - Returns: the worst result over all inputs.
  public static func run(
    inputs: [Tensor], layout: Layout = .plain, samples: Int = 16, step: Double = 1e-3, seed: UInt64 = 1,
    fast: ([Tensor]) -> Tensor, reference: ([[Double]]) -> [Double]
  ) -> Result {
    // Activations (inputs shaped like the first) take the layout; weights stay plain.
    let leaves = inputs.map { t -> Tensor in
      let activation = t.shape.rank == 4 && t.shape == inputs[0].shape
      let l = activation && layout != .plain ? t.toLayout(layout, differentiable: false) : t.copy()
      l.requiresGrad = true
      return l
    }
    let y = fast(leaves)
    var rng = RNG(seed: seed)
    let g = Tensor.normal(y.shape, rng: &rng)
    (y * g.toLayout(y.layout, differentiable: false)).sum().backward()
    let gd = g.array.map(Double.init)
    let base = inputs.map { $0.array.map(Double.init) }

    let refOut = reference(base)
    let fastOut = y.array
    precondition(
      refOut.count == fastOut.count, "reference output has \(refOut.count) elements, op has \(fastOut.count)")
    let rms = (refOut.reduce(0) { $0 + $1 * $1 } / Double(max(refOut.count, 1))).squareRoot() + 1e-12
    let forwardError = zip(refOut, fastOut).map { abs($0 - Double($1)) }.max().map { $0 / rms } ?? 0

    func objective(_ values: [[Double]]) -> Double { zip(reference(values), gd).reduce(0) { $0 + $1.0 * $1.1 } }

    // Numeric gradients of every input first: an input whose true gradient vanishes (a bias before
    // batch norm) is held to a floor of 1e-3 of the overall gradient scale, not to its own rounding noise.
    var numeric: [[(Int, Double)]] = []
    for i in leaves.indices {
      let n = leaves[i].count
      let picks = n <= samples ? Array(0..<n) : (0..<samples).map { _ in rng.int(n) }
      numeric.append(
        picks.map { k in
          var plus = base
          var minus = base
          let h = step * max(1, abs(base[i][k]))
          plus[i][k] += h
          minus[i][k] -= h
          return (k, (objective(plus) - objective(minus)) / (2 * h))
        })
    }
    func rootMeanSquare(_ v: [(Int, Double)]) -> Double {
      (v.reduce(0) { $0 + $1.1 * $1.1 } / Double(max(v.count, 1))).squareRoot()
    }
    let floor = 1e-3 * rootMeanSquare(numeric.flatMap { $0 }) + 1e-12
    var worst = Result(input: -1, element: -1, analytic: 0, numeric: 0, error: 0, forwardError: forwardError)
    for (i, leaf) in leaves.enumerated() {
      let analytic = leaf.grad?.array.map(Double.init) ?? [Double](repeating: 0, count: leaf.count)
      let scale = max(rootMeanSquare(numeric[i]), floor)
      for (k, num) in numeric[i] {
        let e = abs(analytic[k] - num) / max(abs(num), scale)
        if e > worst.error || worst.input < 0 {
          worst = Result(
            input: i, element: k, analytic: analytic[k], numeric: num, error: e, forwardError: forwardError)
        }
      }
    }
    return worst
  }
}
