// Embedding vectors: L2 normalisation, cosine scores and model fingerprints.
//
// Every score of the protocol, the gallery and the baselines is a cosine, so embeddings are normalised
// once where they enter and the scores become plain dot products. Sums run in Float, in index order, in
// this one place, so that equal inputs give bit-equal scores in training, evaluation and the gallery.

/// Vector helpers shared by the protocol, the gallery and the baselines.
public enum Vectors {
  /// `v / ‖v‖` (a zero vector stays zero: the norm is floored at 1e-12).
  public static func normalised(_ v: [Float]) -> [Float] {
    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / max(n, 1e-12) }
  }

  /// The dot product, summed in index order.
  public static func dot(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "Vectors.dot: lengths \(a.count) and \(b.count) differ")
    var s: Float = 0
    for i in a.indices { s += a[i] * b[i] }
    return s
  }

  /// Cosine similarity in [−1, 1].
  public static func cosine(_ a: [Float], _ b: [Float]) -> Float { dot(normalised(a), normalised(b)) }

  /// A model's fingerprint: the mean of its L2-normalised embeddings, renormalised.
  ///
  /// Normalising first gives every image the same weight whatever its embedding's norm.
  public static func fingerprint(_ embeddings: [[Float]]) -> [Float] {
    precondition(!embeddings.isEmpty, "Vectors.fingerprint: no embeddings")
    var m = [Float](repeating: 0, count: embeddings[0].count)
    for e in embeddings {
      precondition(e.count == m.count, "Vectors.fingerprint: embeddings of \(m.count) and \(e.count) values")
      let u = normalised(e)
      for j in m.indices { m[j] += u[j] }
    }
    return normalised(m)
  }

  /// Float32 values as little-endian bytes (the gallery's BLOB format).
  public static func bytes(_ v: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: v.count * 4)
    for (i, x) in v.enumerated() {
      let b = x.bitPattern.littleEndian
      out[4 * i] = UInt8(truncatingIfNeeded: b)
      out[4 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
      out[4 * i + 2] = UInt8(truncatingIfNeeded: b >> 16)
      out[4 * i + 3] = UInt8(truncatingIfNeeded: b >> 24)
    }
    return out
  }

  /// Little-endian Float32 bytes back to values; nil when the byte count is not a multiple of 4.
  public static func floats<C: Collection>(_ bytes: C) -> [Float]? where C.Element == UInt8 {
    guard bytes.count % 4 == 0 else { return nil }
    let b = Array(bytes)
    return (0..<(b.count / 4)).map { i in
      Float(
        bitPattern: UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16
          | UInt32(b[4 * i + 3]) << 24)
    }
  }
}
