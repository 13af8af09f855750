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
/// `F.cross_entropy`).
public func crossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
  precondition(
    logits.shape.rank == 2 && logits.shape[0] == labels.count,
    "crossEntropy: logits \(logits.shape) do not match \(labels.count) labels")
  let c = logits.shape[1]
  precondition(labels.allSatisfy { $0 >= 0 && $0 < c }, "crossEntropy: a label is outside 0..<\(c)")
  let lp = logSoftmax(logits)
  let n = labels.count
  var total: Float = 0
  for (i, y) in labels.enumerated() { total -= lp.pointer[i * c + y] }
  let out = Tensor([total / Float(n)], shape: [1])
  return differentiable("nllLoss", output: out, inputs: [lp]) { g in
    let r = Tensor.zeros(lp.shape)
    for (i, y) in labels.enumerated() { r.pointer[i * c + y] = -g.item / Float(n) }
    return [r]
  }
}

/// Batch-hard triplet loss with Euclidean distances: for each anchor the farthest positive and the
/// nearest negative, mean of max(d⁺ − d⁻ + margin, 0) (Hermans et al. 2017).
public func batchHardTriplet(_ z: Tensor, labels: [Int], margin: Float = 0.3) -> Tensor {
  precondition(
    z.shape.rank == 2 && z.shape[0] == labels.count,
    "batchHardTriplet: embeddings \(z.shape) do not match \(labels.count) labels")
  let zp = z.layout == .plain ? z : z.toLayout(.plain)
  let (n, d) = (z.shape[0], z.shape[1])
  var dist = [Float](repeating: 0, count: n * n)
  for i in 0..<n {
    for j in 0..<n where j != i {
      dist[i * n + j] = Elementwise.squaredDistance(zp.pointer + i * d, zp.pointer + j * d, d).squareRoot()
    }
  }
  var total: Float = 0
  var active: [(anchor: Int, pos: Int, neg: Int)] = []
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
  let out = Tensor([total / Float(n)], shape: [1])
  return differentiable("batchHardTriplet", output: out, inputs: [zp]) { g in
    let r = Tensor.zeros(zp.shape)
    let s = g.item / Float(n)
    func addDistanceGrad(_ i: Int, _ j: Int, _ w: Float) {
      let dij = dist[i * n + j]
      // A zero distance has no defined direction; PyTorch's cdist passes no gradient there.
      guard dij > 0 else { return }
      let k = w / dij
      for t in 0..<d {
        let diff = zp.pointer[i * d + t] - zp.pointer[j * d + t]
        r.pointer[i * d + t] += k * diff
        r.pointer[j * d + t] -= k * diff
      }
    }
    for (a, p, q) in active {
      if labels[a] == labels[p] { addDistanceGrad(a, p, s) }
      addDistanceGrad(a, q, -s)
    }
    return [r]
  }
}
