// The n-shot gallery of the evaluation protocol (../shared/DESIGN.md, "Evaluation protocol"): the first
// n embeddings of each model, in sorted file order, enroll it; its other embeddings are queries. 1:N
// identification, the open set and the report's confusion matrix all score queries against it.

/// The protocol's gallery: one fingerprint per label from the first `nShot` embeddings of that label (in
/// the order given, i.e. sorted file order); the label's other embeddings are its queries.
public struct EnrolledGallery: Sendable {
  /// The distinct labels, ascending; fingerprint `k` belongs to `classes[k]`.
  public let classes: [Int]
  /// Normalised fingerprints, one per class.
  public let fingerprints: [[Float]]
  /// Indices of the embeddings that were not enrolled.
  public let queries: [Int]

  /// Enrolls the first `nShot` embeddings of every label (`Vectors.fingerprint`).
  public init(_ embeddings: [[Float]], labels: [Int], nShot: Int) {
    precondition(
      embeddings.count == labels.count, "EnrolledGallery: \(embeddings.count) embeddings, \(labels.count) labels")
    precondition(nShot >= 1 && !embeddings.isEmpty, "EnrolledGallery: needs embeddings and nShot ≥ 1")
    classes = Array(Set(labels)).sorted()
    var fingerprints: [[Float]] = []
    var queries: [Int] = []
    for c in classes {
      let idx = labels.indices.filter { labels[$0] == c }
      fingerprints.append(Vectors.fingerprint(idx.prefix(nShot).map { embeddings[$0] }))
      queries += idx.dropFirst(nShot)
    }
    self.fingerprints = fingerprints
    self.queries = queries
  }

  /// The best fingerprint for an embedding: its position in ``classes`` and the cosine (ties: the lower
  /// class).
  public func best(_ embedding: [Float]) -> (index: Int, score: Float) {
    let q = Vectors.normalised(embedding)
    var best = (index: 0, score: -Float.infinity)
    for (k, f) in fingerprints.enumerated() {
      let s = Vectors.dot(f, q)
      if s > best.score { best = (k, s) }
    }
    return best
  }

  /// The label predicted for every query, with its true label (in ``queries`` order).
  public func predictions(_ embeddings: [[Float]], labels: [Int]) -> (truth: [Int], predicted: [Int]) {
    (queries.map { labels[$0] }, queries.map { classes[best(embeddings[$0]).index] })
  }
}
