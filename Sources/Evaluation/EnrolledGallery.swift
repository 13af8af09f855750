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
  /// A linear map applied to fingerprints and queries before the cosine (a gallery-adapted metric).
  public let metric: (@Sendable ([Float]) -> [Float])?

  /// Enrolls the first `nShot` embeddings of every label (`Vectors.fingerprint`). With `metric`, a
  /// fingerprint is the normalised image of the plain one and a query is mapped the same way, as the
  /// product's gallery does.
  public init(_ embeddings: [[Float]], labels: [Int], nShot: Int, metric: (@Sendable ([Float]) -> [Float])? = nil) {
    precondition(
      embeddings.count == labels.count, "EnrolledGallery: \(embeddings.count) embeddings, \(labels.count) labels")
    precondition(nShot >= 1 && !embeddings.isEmpty, "EnrolledGallery: needs embeddings and nShot ≥ 1")
    classes = Array(Set(labels)).sorted()
    var fingerprints: [[Float]] = []
    var queries: [Int] = []
    for c in classes {
      let idx = labels.indices.filter { labels[$0] == c }
      let plain = Vectors.fingerprint(idx.prefix(nShot).map { embeddings[$0] })
      fingerprints.append(metric.map { Vectors.normalised($0(plain)) } ?? plain)
      queries += idx.dropFirst(nShot)
    }
    self.fingerprints = fingerprints
    self.queries = queries
    self.metric = metric
  }

  /// Indices of the embeddings the first-`nShot` rule enrolls (the first `nShot` of each label, in the
  /// order given), label by label in ascending label order.
  public static func enrolledIndices(labels: [Int], nShot: Int) -> [Int] {
    Array(Set(labels)).sorted().flatMap { c in labels.indices.filter { labels[$0] == c }.prefix(nShot) }
  }

  /// The best fingerprint for an embedding: its position in ``classes`` and the cosine (ties: the lower
  /// class).
  public func best(_ embedding: [Float]) -> (index: Int, score: Float) {
    let q = Vectors.normalised(metric.map { $0(Vectors.normalised(embedding)) } ?? embedding)
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
