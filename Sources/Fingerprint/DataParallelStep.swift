import NN
import Tensor

/// One process's share of a data-parallel training step over a ``ProcessGroup`` of R processes.
///
/// Every process draws the whole P × K batch (indices and augmentation choices, from the single-process
/// streams) and keeps rows `rows` = r·N/R ..< (r+1)·N/R. Its loss is the global loss with only its rows
/// differentiable:
/// - cross-entropy: its rows' sum divided by the global N, so the shares add up to the mean;
/// - batch-hard triplet: needs every pair of the batch, so the projections (N × D floats, small) are
///   all-gathered and each process evaluates the whole batch's loss with the other rows as constants;
///   the gradient it gets for its rows is then exactly those rows of the single-process gradient.
///
/// Backward gives this process's contribution to every parameter gradient, and one all-reduce (sum)
/// over a flat buffer gives the total on every process. Batch norm keeps per-process statistics
/// (PyTorch DDP's default): that is a single process's ghost batch norm with R groups
/// (``ExtractorConfig/batchNormGroups``), so the config must say G = R, or a multiple of R when each
/// process further splits its part.
public struct DataParallelStep {
  public let group: ProcessGroup
  /// The global batch size N = P·K.
  public let batchSize: Int
  /// This process's rows of each batch.
  public let rows: Range<Int>
  /// Batch-norm groups within this process's rows (G / R).
  public let localBatchNormGroups: Int

  /// - Throws: ``ExtractorTrainingError/badConfig(_:)`` when R does not divide N or G.
  public init(config: ExtractorConfig, group: ProcessGroup) throws {
    self.group = group
    batchSize = config.modelsPerBatch * config.tilesPerClass
    let r = group.size
    let g = config.batchNormGroups ?? 1
    guard batchSize % r == 0 else {
      throw ExtractorTrainingError.badConfig(
        "\(r) processes cannot share a batch of P × K = \(batchSize) tiles evenly; choose P and K so that \(r) divides P·K"
      )
    }
    guard g % r == 0 else {
      throw ExtractorTrainingError.badConfig(
        "batch-norm groups \(g) for \(r) processes: per-process statistics need --bn-groups a multiple of \(r)")
    }
    let local = batchSize / r
    rows = (group.rank * local)..<((group.rank + 1) * local)
    localBatchNormGroups = g / r
  }

  /// This process's cross-entropy share and the whole batch's triplet loss (differentiable in this
  /// process's rows only) for its `logits` [N/R, C] and `projection` [N/R, D] and the global `labels` [N].
  public func losses(logits: Tensor, projection z: Tensor, labels: [Int], margin: Float) -> (
    crossEntropy: Tensor, triplet: Tensor
  ) {
    precondition(
      labels.count == batchSize && logits.shape[0] == rows.count && z.shape[0] == rows.count,
      "DataParallelStep.losses: logits \(logits.shape), projection \(z.shape) for rows \(rows) of \(labels.count) labels"
    )
    let ce = crossEntropy(logits, labels: Array(labels[rows]), count: batchSize)
    let gathered = group.allGather(z.toLayout(.plain, differentiable: false).array)
    let triplet = batchHardTriplet(
      local: z, gathered: gathered, offset: rows.lowerBound, labels: labels, margin: margin)
    return (ce, triplet)
  }

  /// Sums every parameter's gradient over the group in place (a parameter without one counts as zeros,
  /// and gets one when the sum is not all zeros), together with `extra`; returns the sums of `extra`.
  public func allReduce(_ parameters: [Tensor], extra: [Float]) -> [Float] {
    var buffer = flatGradients(parameters)
    buffer += extra
    group.allReduceSum(&buffer)
    setGradients(parameters, from: buffer)
    return Array(buffer.suffix(extra.count))
  }
}

extension DataParallelStep {
  /// Checks that every process holds the same weights (bit for bit): a 32-bit FNV-1a checksum of the
  /// parameters' bits, all-gathered as two exactly representable halves.
  ///
  /// - Throws: ``ExtractorTrainingError/ranksDiverged(step:)`` when they differ, on every process alike.
  public func checkSameWeights(_ parameters: [Tensor], step: Int) throws {
    var h: UInt32 = 0x811C_9DC5
    for p in parameters {
      for i in 0..<p.count { h = (h ^ p.pointer[i].bitPattern) &* 0x0100_0193 }
    }
    let all = group.allGather([Float(h >> 16), Float(h & 0xFFFF)])
    guard Set(stride(from: 0, to: all.count, by: 2).map { [all[$0], all[$0 + 1]] }).count == 1 else {
      throw ExtractorTrainingError.ranksDiverged(step: step)
    }
  }
}

/// Every parameter's gradient in parameter order, zeros where there is none. The element order is the
/// gradient's memory order, the same on every process (all run the same kernels on the same layouts).
func flatGradients(_ parameters: [Tensor]) -> [Float] {
  var buffer = [Float](repeating: 0, count: parameters.reduce(0) { $0 + $1.count })
  var at = 0
  buffer.withUnsafeMutableBufferPointer { b in
    for p in parameters {
      if let g = p.grad {
        precondition(g.count == p.count, "flatGradients: gradient \(g.shape) of a parameter \(p.shape)")
        (b.baseAddress! + at).update(from: g.pointer, count: g.count)
      }
      at += p.count
    }
  }
  return buffer
}

/// Writes `buffer` (as ``flatGradients(_:)`` lays it out, possibly longer) into the parameters' gradients.
func setGradients(_ parameters: [Tensor], from buffer: [Float]) {
  var at = 0
  buffer.withUnsafeBufferPointer { b in
    for p in parameters {
      let values = b.baseAddress! + at
      if let g = p.grad {
        g.pointer.update(from: values, count: g.count)
        g.markModified()
      } else if (0..<p.count).contains(where: { values[$0] != 0 }) {
        let g = Tensor(Array(UnsafeBufferPointer(start: values, count: p.count)), shape: p.shape)
        p.grad = p.layout == .plain ? g : g.toLayout(p.layout, differentiable: false)
      }
      at += p.count
    }
  }
}
