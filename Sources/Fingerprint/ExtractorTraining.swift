import Foundation
import NN
import Synthesis
import Tensor

/// Settings of an extractor training run. Saved beside its outputs and in the checkpoint.
public struct ExtractorConfig: Codable, Equatable, Sendable {
  /// Synthetic models per batch (P) and fingerprinted tiles per model (K).
  public var modelsPerBatch = 32
  public var tilesPerClass = 4
  /// Optimizer steps.
  public var steps = 1940
  /// AdamW learning rate and weight decay.
  public var learningRate: Float = 1e-3
  public var weightDecay: Float = 0.01
  /// Gradient-norm clip, applied after backward.
  public var clipNorm: Float = 5
  /// Triplet margin (Euclidean, on the projection).
  public var margin: Float = 0.3
  /// ResNet-18 base width and projection size.
  public var width = 32
  public var projection = 128
  /// Fingerprinted tiles per pool model.
  public var tilesPerModel = 144
  /// Fraction of the architectures held out of training for zero-shot validation.
  public var heldOutFraction = 0.1
  /// Architectures to hold out instead of a seeded fraction (to reproduce another run's split).
  public var heldOut: [String]? = nil
  /// Held-out tiles per model scored for zero-shot 1:N.
  public var validationTilesPerModel = 48
  /// Seed of the split, initialisation and sampling.
  public var seed: UInt64 = 0

  public init() {}
}

/// Fingerprinted tiles of every pool model, as 8-bit images, and their standardised spectra.
public struct FingerprintedSet {
  /// Model keys, one class each, in pool order.
  public var keys: [String]
  /// Architecture id of each class.
  public var architectures: [String]
  /// Tiles per class.
  public let perClass: Int
  /// Tile side.
  public let size: Int
  /// Spectra of all tiles, class-major: `keys.count × perClass × 3 × size × size`, unstandardised.
  public var spectra: [Float]

  /// Runs `perModel` tiles (a seeded choice per model) through every model of `store` and takes their
  /// spectra. `progress(done, total)` is called after each model.
  public init(
    store: PoolStore, tiles: TileSet, perModel: Int, input: SpectralInput, seed: UInt64,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws {
    precondition(perModel <= tiles.count, "FingerprintedSet: \(perModel) tiles per model of \(tiles.count)")
    keys = store.manifest.models.map(\.key)
    architectures = store.manifest.models.map(\.architecture)
    perClass = perModel
    size = tiles.size
    let per = perModel * 3 * size * size
    spectra = [Float](repeating: 0, count: keys.count * per)
    for (i, entry) in store.manifest.models.enumerated() {
      let model = try store.load(entry)
      var rng = RNG(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
      var order = Array(0..<tiles.count)
      for j in 0..<perModel { order.swapAt(j, j + rng.int(tiles.count - j)) }
      let images = model.fingerprint(tiles.unitBatch(Array(order.prefix(perModel))))
      spectra.withUnsafeMutableBufferPointer { input.rawSpectra(images, into: $0.baseAddress! + i * per) }
      progress(i + 1, keys.count)
    }
  }

  /// Per-channel mean and standard deviation over the tiles of `classes`.
  public func channelStatistics(_ classes: [Int]) -> (mean: [Float], std: [Float]) {
    let plane = size * size
    var sum = [Double](repeating: 0, count: 3)
    var sq = [Double](repeating: 0, count: 3)
    spectra.withUnsafeBufferPointer { s in
      for c in classes {
        for t in 0..<perClass {
          for ch in 0..<3 {
            let p = s.baseAddress! + ((c * perClass + t) * 3 + ch) * plane
            var a: Double = 0
            var b: Double = 0
            for j in 0..<plane {
              a += Double(p[j])
              b += Double(p[j]) * Double(p[j])
            }
            sum[ch] += a
            sq[ch] += b
          }
        }
      }
    }
    let n = Double(classes.count * perClass * plane)
    return (sum.map { Float($0 / n) }, (0..<3).map { Float(((sq[$0] - sum[$0] * sum[$0] / n) / (n - 1)).squareRoot()) })
  }

  /// Tiles (class, index) as a standardised batch.
  public func batch(_ items: [(Int, Int)], input: SpectralInput) -> Tensor {
    let per = 3 * size * size
    let out = Tensor(uninitialized: [items.count, 3, size, size])
    spectra.withUnsafeBufferPointer { s in
      for (b, (c, t)) in items.enumerated() {
        (out.pointer + b * per).update(from: s.baseAddress! + (c * perClass + t) * per, count: per)
      }
    }
    input.standardise(out.pointer, count: items.count)
    return out
  }
}

/// P × K batches: P distinct classes, K distinct tiles of each, so every anchor of the batch-hard
/// triplet loss has a positive (K ≥ 2) and a negative (P ≥ 2).
public struct PKSampler {
  /// Classes to draw from (indices into the set).
  public let classes: [Int]
  /// Tiles per class in the set.
  public let perClass: Int
  /// Classes per batch (P) and tiles per class (K).
  public let p: Int
  public let k: Int
  /// Seed; batch `step` depends only on it and the step, so a resumed run draws the same batches.
  public let seed: UInt64

  public init(classes: [Int], perClass: Int, p: Int, k: Int, seed: UInt64) {
    precondition(p >= 2 && p <= classes.count, "PKSampler: P = \(p) needs 2 ≤ P ≤ \(classes.count) classes")
    precondition(k >= 2 && k <= perClass, "PKSampler: K = \(k) needs 2 ≤ K ≤ \(perClass) tiles per class")
    self.classes = classes
    self.perClass = perClass
    self.p = p
    self.k = k
    self.seed = seed
  }

  /// Batch `step` as (class, tile) pairs, class by class; labels are the positions in `classes`.
  public func batch(step: Int) -> (items: [(Int, Int)], labels: [Int]) {
    var rng = RNG(seed: seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
    var cls = Array(classes.indices)
    for j in 0..<p { cls.swapAt(j, j + rng.int(cls.count - j)) }
    var items: [(Int, Int)] = []
    var labels: [Int] = []
    for c in cls.prefix(p) {
      var tiles = Array(0..<perClass)
      for j in 0..<k { tiles.swapAt(j, j + rng.int(perClass - j)) }
      for t in tiles.prefix(k) {
        items.append((classes[c], t))
        labels.append(c)
      }
    }
    return (items, labels)
  }
}

/// 1:N identification as the evaluation protocol: the first `nShot` embeddings of each label (in
/// order) enroll it (mean of L2-normalised embeddings), the rest are queries scored by cosine.
/// Returns accuracy and macro-F1.
public func oneToN(_ embeddings: [[Float]], labels: [Int], nShot: Int = 10) -> (accuracy: Double, macroF1: Double) {
  let normed = embeddings.map(normalised)
  let classes = Array(Set(labels)).sorted()
  var gallery: [[Float]] = []
  var queries: [Int] = []
  for c in classes {
    let idx = labels.indices.filter { labels[$0] == c }
    var m = [Float](repeating: 0, count: normed[0].count)
    for i in idx.prefix(nShot) { for j in m.indices { m[j] += normed[i][j] } }
    gallery.append(normalised(m))
    queries += idx.dropFirst(nShot)
  }
  var tp = [Int](repeating: 0, count: classes.count)
  var fp = tp
  var fn = tp
  var correct = 0
  for q in queries {
    var best = 0
    var bestScore = -Float.infinity
    for (g, v) in gallery.enumerated() {
      var s: Float = 0
      for j in v.indices { s += v[j] * normed[q][j] }
      if s > bestScore {
        bestScore = s
        best = g
      }
    }
    let truth = classes.firstIndex(of: labels[q])!
    if best == truth {
      correct += 1
      tp[truth] += 1
    } else {
      fp[best] += 1
      fn[truth] += 1
    }
  }
  let f1 = classes.indices.map { tp[$0] == 0 ? 0 : 2 * Double(tp[$0]) / Double(2 * tp[$0] + fp[$0] + fn[$0]) }
  return (Double(correct) / Double(max(queries.count, 1)), f1.reduce(0, +) / Double(max(classes.count, 1)))
}

/// 1:1 verification on `pairs` seeded random pairs, half from the same label: AUC (Mann–Whitney,
/// ties averaged) of cosine scores and the accuracy at the best threshold over observed scores.
public func oneToOne(_ embeddings: [[Float]], labels: [Int], pairs: Int = 4000, seed: UInt64 = 0) -> (
  auc: Double, accuracy: Double
) {
  let normed = embeddings.map(normalised)
  let classes = Array(Set(labels)).sorted()
  let by = Dictionary(grouping: labels.indices, by: { labels[$0] })
  var rng = RNG(seed: seed)
  var scored: [(Float, Bool)] = []
  for k in 0..<pairs {
    let i: Int
    let j: Int
    if k % 2 == 0 {
      let members = by[classes[rng.int(classes.count)]]!
      let a = rng.int(members.count)
      var b = rng.int(members.count - 1)
      if b >= a { b += 1 }
      (i, j) = (members[a], members[b])
    } else {
      let c1 = rng.int(classes.count)
      var c2 = rng.int(classes.count - 1)
      if c2 >= c1 { c2 += 1 }
      let m1 = by[classes[c1]]!
      let m2 = by[classes[c2]]!
      (i, j) = (m1[rng.int(m1.count)], m2[rng.int(m2.count)])
    }
    var s: Float = 0
    for d in normed[i].indices { s += normed[i][d] * normed[j][d] }
    scored.append((s, k % 2 == 0))
  }
  scored.sort { $0.0 < $1.0 }
  var rankSumPositive = 0.0
  var i = 0
  while i < scored.count {
    var j = i
    while j + 1 < scored.count && scored[j + 1].0 == scored[i].0 { j += 1 }
    let rank = Double(i + j) / 2 + 1
    for t in i...j where scored[t].1 { rankSumPositive += rank }
    i = j + 1
  }
  let npos = Double(scored.filter(\.1).count)
  let nneg = Double(scored.count) - npos
  let auc = (rankSumPositive - npos * (npos + 1) / 2) / (npos * nneg)
  // Threshold at each observed score (same iff s ≥ t): positives at or above, negatives below.
  var best = 0.0
  var negativesBelow = 0.0
  var positivesBelow = 0.0
  i = 0
  while i < scored.count {
    let acc = (negativesBelow + (npos - positivesBelow)) / Double(scored.count)
    best = max(best, acc)
    var j = i
    while j < scored.count && scored[j].0 == scored[i].0 {
      if scored[j].1 { positivesBelow += 1 } else { negativesBelow += 1 }
      j += 1
    }
    i = j
  }
  return (auc, best)
}

func normalised(_ v: [Float]) -> [Float] {
  let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
  return v.map { $0 / max(n, 1e-12) }
}
