import Foundation
import Tensor

// Losses as fused ops: one forward kernel, one hand-written backward each.

/// Mean squared error, mean over all elements (PyTorch's `F.mse_loss`). Both sides receive gradients
/// when they require them.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
  precondition(
    prediction.shape == target.shape, "mseLoss: prediction \(prediction.shape) and target \(target.shape) differ")
  let p = prediction.layout == .plain ? prediction : prediction.toLayout(.plain)
  let t = target.layout == .plain ? target : target.toLayout(.plain)
  let n = p.count
  let value = Elementwise.squaredDistance(p.pointer, t.pointer, n) / Float(n)
  let out = Tensor([value], shape: [1])
  return differentiable("mseLoss", output: out, inputs: [p, t]) { g in
    let diff = Tensor(uninitialized: p.shape)
    Elementwise.sub(p.pointer, t.pointer, diff.pointer, n)
    Elementwise.scale(diff.pointer, 2 * g.item / Float(n), diff.pointer, n)
    var gt: Tensor? = nil
    if t.requiresGrad {
      let r = Tensor(uninitialized: t.shape)
      Elementwise.scale(diff.pointer, -1, r.pointer, n)
      gt = r
    }
    return [diff, gt]
  }
}

/// Cross-entropy of [N, C] logits against class indices, mean over the batch (PyTorch's
/// `F.cross_entropy`). A negative label marks a row that has no class (PyTorch's `ignore_index`): it adds
/// nothing and is not counted, so the mean is over the labelled rows. With `count` given the sum is
/// divided by it instead: one data-parallel process's share of the mean over a global batch of `count`
/// labelled samples, so that the shares add up to it.
public func crossEntropy(_ logits: Tensor, labels: [Int], count: Int? = nil) -> Tensor {
  precondition(
    logits.shape.rank == 2 && logits.shape[0] == labels.count,
    "crossEntropy: logits \(logits.shape) do not match \(labels.count) labels")
  let labelled = labels.filter { $0 >= 0 }.count
  precondition(
    count.map { $0 >= labelled } ?? true, "crossEntropy: count \(count ?? 0) below \(labelled) labelled rows")
  let c = logits.shape[1]
  precondition(labels.allSatisfy { $0 < c }, "crossEntropy: a label is outside 0..<\(c)")
  let lp = logSoftmax(logits)
  // No labelled row gives a loss of 0 with a zero gradient rather than 0 / 0.
  let n = max(count ?? labelled, 1)
  var total: Float = 0
  for (i, y) in labels.enumerated() where y >= 0 { total -= lp.pointer[i * c + y] }
  let out = Tensor([total / Float(n)], shape: [1])
  return differentiable("nllLoss", output: out, inputs: [lp]) { g in
    let r = Tensor.zeros(lp.shape)
    for (i, y) in labels.enumerated() where y >= 0 { r.pointer[i * c + y] = -g.item / Float(n) }
    return [r]
  }
}

/// Logits of a cosine classifier with an additive margin (CosFace, Wang et al. 2018): s · (cos θ − m
/// at the true class), cos θ between each embedding row of `e` [N, D] and each class row of `weight`
/// [C, D], both normalised. Fed to ``crossEntropy``, it trains the embedding's directions, which the
/// attribution compares by cosine, instead of a linear classifier's unbounded scores. A negative label
/// marks a row without a class: it gets no margin.
public func cosineMarginLogits(_ e: Tensor, weight: Tensor, labels: [Int], scale: Float, margin: Float) -> Tensor {
  precondition(
    e.shape.rank == 2 && weight.shape.rank == 2 && e.shape[1] == weight.shape[1] && e.shape[0] == labels.count,
    "cosineMarginLogits: embeddings \(e.shape), class weights \(weight.shape) and \(labels.count) labels do not match"
  )
  let (n, c) = (e.shape[0], weight.shape[0])
  precondition(labels.allSatisfy { $0 < c }, "cosineMarginLogits: a label is outside 0..<\(c)")
  let cosines = linear(l2NormalizedRows(e), weight: l2NormalizedRows(weight))
  let shift = Tensor.zeros(Shape([n, c]))
  for (i, y) in labels.enumerated() where y >= 0 { shift.pointer[i * c + y] = scale * margin }
  return cosines.scaled(scale) - shift
}

/// Batch-hard triplet loss with Euclidean distances: for each anchor the farthest positive and the
/// nearest negative, mean of max(d⁺ − d⁻ + margin, 0) (Hermans et al. 2017).
public func batchHardTriplet(_ z: Tensor, labels: [Int], margin: Float = 0.3) -> Tensor {
  precondition(
    z.shape.rank == 2 && z.shape[0] == labels.count,
    "batchHardTriplet: embeddings \(z.shape) do not match \(labels.count) labels")
  let zp = z.layout == .plain ? z : z.toLayout(.plain)
  let mining = BatchHardMining(zp.pointer, n: z.shape[0], d: z.shape[1], labels: labels, margin: margin)
  let out = Tensor([mining.total / Float(mining.n)], shape: [1])
  return differentiable("batchHardTriplet", output: out, inputs: [zp]) { g in
    let r = Tensor.zeros(zp.shape)
    mining.gradient(zp.pointer, scale: g.item / Float(mining.n), into: r.pointer)
    return [r]
  }
}

/// The batch-hard triplet loss of a global batch of which this process holds rows
/// `offset ..< offset + local.shape[0]` (data-parallel training): `all` is every process's projection,
/// gathered, [N, D] row-major; `labels` the global batch's. The value is the whole batch's loss, and the
/// gradient reaches `local` only, as the exact rows of the global gradient: the other rows are
/// constants here and their own processes' share, so the processes' parameter gradients add up to the
/// single-process one.
public func batchHardTriplet(
  local: Tensor, gathered all: [Float], offset: Int, labels: [Int], margin: Float = 0.3
) -> Tensor {
  let (m, d) = (local.shape[0], local.shape[1])
  let n = labels.count
  precondition(
    local.shape.rank == 2 && all.count == n * d && offset >= 0 && offset + m <= n,
    "batchHardTriplet: local rows \(local.shape) at \(offset) of gathered \(all.count) values for \(n) labels")
  let zp = local.layout == .plain ? local : local.toLayout(.plain)
  let mining = all.withUnsafeBufferPointer {
    BatchHardMining($0.baseAddress!, n: n, d: d, labels: labels, margin: margin)
  }
  let out = Tensor([mining.total / Float(n)], shape: [1])
  return differentiable("batchHardTriplet", output: out, inputs: [zp]) { g in
    var full = [Float](repeating: 0, count: n * d)
    all.withUnsafeBufferPointer { a in
      full.withUnsafeMutableBufferPointer {
        mining.gradient(a.baseAddress!, scale: g.item / Float(n), into: $0.baseAddress!)
      }
    }
    return [Tensor(Array(full[(offset * d)..<((offset + m) * d)]), shape: zp.shape)]
  }
}

/// The pairwise distances, hardest positives and negatives and active triplets of one batch of
/// embeddings [n, d], shared by the whole-batch and the data-parallel loss so that both do the same
/// arithmetic in the same order.
private struct BatchHardMining {
  let n: Int
  let d: Int
  let labels: [Int]
  var dist: [Float]
  var total: Float = 0
  var active: [(anchor: Int, pos: Int, neg: Int)] = []

  init(_ z: UnsafePointer<Float>, n: Int, d: Int, labels: [Int], margin: Float) {
    (self.n, self.d, self.labels) = (n, d, labels)
    dist = [Float](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n where j != i {
        dist[i * n + j] = Elementwise.squaredDistance(z + i * d, z + j * d, d).squareRoot()
      }
    }
    for i in 0..<n {
      // As the reference: the hardest positive over d·same (self and negatives count as 0), the hardest
      // negative over d + 1e9·same.
      var pos = 0
      var posD = -Float.infinity
      var neg = 0
      var negD = Float.infinity
      for j in 0..<n {
        let same = labels[i] == labels[j]
        let dp = same ? dist[i * n + j] : 0
        if dp > posD {
          posD = dp
          pos = j
        }
        let dn = same ? dist[i * n + j] + 1e9 : dist[i * n + j]
        if dn < negD {
          negD = dn
          neg = j
        }
      }
      let h = posD - negD + margin
      if h > 0 {
        total += h
        active.append((i, pos, neg))
      }
    }
  }

  /// Adds `scale` × the gradient of the hinge sum with respect to every embedding into `r` [n, d].
  func gradient(_ z: UnsafePointer<Float>, scale s: Float, into r: UnsafeMutablePointer<Float>) {
    func addDistanceGrad(_ i: Int, _ j: Int, _ w: Float) {
      let dij = dist[i * n + j]
      // A zero distance has no defined direction; PyTorch's cdist passes no gradient there.
      guard dij > 0 else { return }
      let k = w / dij
      for t in 0..<d {
        let diff = z[i * d + t] - z[j * d + t]
        r[i * d + t] += k * diff
        r[j * d + t] -= k * diff
      }
    }
    for (a, p, q) in active {
      if labels[a] == labels[p] { addDistanceGrad(a, p, s) }
      addDistanceGrad(a, q, -s)
    }
  }
}
