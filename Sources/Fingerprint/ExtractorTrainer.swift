import Evaluation
import Foundation
import NN
import Spectral
import Synthesis
import Tensor

/// Trains a fingerprint extractor on a fingerprinted set: a ResNet, cross-entropy over the training
/// models plus batch-hard triplet on the projection, AdamW with linear warm-up then cosine, gradients
/// zeroed each step and clipped after backward. The next batch (sampling, augmentation, spectra) is
/// prepared on another thread while the current step trains.
public struct ExtractorTrainer {
  public var config: ExtractorConfig
  /// The residual network of ``ExtractorConfig/denoiser`` (the file that path names, loaded by the
  /// caller); nil trains on the high-pass residual. The trained extractor carries it.
  public var denoiser: LearnedDenoiser?

  public init(config: ExtractorConfig, denoiser: LearnedDenoiser? = nil) {
    self.config = config
    self.denoiser = denoiser
  }

  /// Architectures held out of training (a seeded `heldOutFraction` of those in the set).
  public func heldOutArchitectures(_ set: FingerprintedSet) -> Set<String> {
    if let given = config.heldOut { return Set(given) }
    // Only synthetic architectures: real generators added for fine-tuning are never held out.
    var archs = Array(Set(set.architectures.filter { (try? Architecture(id: $0)) != nil })).sorted()
    // A set of real generators only (no folder named after an architecture) has nothing to hold out.
    guard !archs.isEmpty else { return [] }
    var rng = RNG(seed: config.seed &+ 17)
    // Clamped as `ExtractorConfig.problem` requires, so that a library caller cannot draw out of range.
    let fraction = config.heldOutFraction.isFinite ? min(max(config.heldOutFraction, 0), 1) : 0
    let n = max(1, Int((fraction * Double(archs.count)).rounded()))
    for j in 0..<n { archs.swapAt(j, j + rng.int(archs.count - j)) }
    return Set(archs.prefix(n))
  }

  /// Classes of `set` trained on and held out (by ``heldOutArchitectures(_:)``), in set order.
  public func split(_ set: FingerprintedSet) -> (train: [Int], heldOut: [Int]) {
    let held = heldOutArchitectures(set)
    let isHeld = set.architectures.map(held.contains)
    return (set.architectures.indices.filter { !isHeld[$0] }, set.architectures.indices.filter { isHeld[$0] })
  }

  /// What one training step reported.
  public struct Step: Sendable {
    public var step: Int
    public var loss: Float
    public var accuracy: Float
    public var learningRate: Float
  }

  /// Where an interrupted run stopped: steps done, network and optimizer state.
  public struct Resume {
    public var step: Int
    public var network: [String: Tensor]
    public var optimizer: [String: Tensor]

    public init(step: Int, network: [String: Tensor], optimizer: [String: Tensor]) {
      self.step = step
      self.network = network
      self.optimizer = optimizer
    }
  }

  /// Trains; `onStep` after every step, `onEpoch(extractor, epoch, resume)` after each pass over the
  /// training tiles (and at the end) with the state to checkpoint. Starts from `resume` when given;
  /// otherwise from `initial`'s weights when given (fine-tuning: its input standardisation is kept, and
  /// its classifier only when the classes are the same). Returns the extractor and the held-out classes.
  ///
  /// With a `group` of R processes (data-parallel; every process calls this with the same set, config,
  /// `initial` and `resume`) each process takes rows r·N/R ..< (r+1)·N/R of every P × K batch of N tiles
  /// (``DataParallelStep``), and all apply the same summed gradient, so the run equals a single
  /// process's with ``ExtractorConfig/batchNormGroups`` R up to Float32 rounding. `onStep` and `onEpoch`
  /// are called on rank 0 only.
  ///
  /// With ``ExtractorConfig/virtualGenerators`` Q > 0, Q of every batch's P models are virtual
  /// generators drawn for that step and applied to K tiles of `photos` (single-process only).
  public func train(
    _ set: FingerprintedSet, photos: TileSet? = nil, initial: Extractor? = nil, resume: Resume? = nil,
    group: ProcessGroup = SingleProcess(),
    onStep: (Step) -> Void = { _ in }, onEpoch: (Extractor, Int, () -> Resume) -> Void = { _, _, _ in }
  ) throws -> (Extractor, heldOut: [Int]) {
    if let problem = config.problem { throw ExtractorTrainingError.badConfig(problem) }
    let parallel = try DataParallelStep(config: config, group: group)
    let (trainClasses, heldClasses) = split(set)
    let virtual = config.virtualGenerators ?? 0
    let poolP = config.poolModelsPerBatch
    guard trainClasses.count >= poolP else {
      throw ExtractorTrainingError.badConfig(
        "\(trainClasses.count) training models for P = \(poolP) pool models per batch")
    }
    if virtual > 0 {
      guard let photos else {
        throw ExtractorTrainingError.badConfig("virtual generators need photo tiles (train from a pool)")
      }
      guard photos.size == set.size else {
        throw ExtractorTrainingError.badConfig("photo tiles of \(photos.size) px for a set of \(set.size) px")
      }
      guard group.size == 1 else {
        throw ExtractorTrainingError.badConfig(
          "virtual generators are not implemented for data-parallel training; run one process")
      }
    }
    let m = config.tilesPerInput
    guard set.perClass >= config.tilesPerClass * m else {
      throw ExtractorTrainingError.badConfig(
        "\(set.perClass) tiles per model for K = \(config.tilesPerClass)" + (m > 1 ? " inputs of \(m) tiles" : ""))
    }
    guard m == 1 || group.size == 1 else {
      throw ExtractorTrainingError.badConfig(
        "spectra averaged over \(m) tiles are not implemented for data-parallel training; run one process")
    }
    guard (config.denoiser == nil) == (denoiser == nil) else {
      throw ExtractorTrainingError.badConfig(
        config.denoiser == nil
          ? "a denoiser was given without its path in the settings (denoiser)"
          : "the settings name the denoiser \(config.denoiser!) but none was loaded")
    }
    var input = SpectralInput()
    input.size = set.size
    if m > 1 { input.pooling = "spectrum" }
    if let denoiser {
      input.residual = "denoiser"
      input.denoiser = denoiser
    }
    if let initial {
      guard initial.input.size == set.size else {
        throw ExtractorTrainingError.badConfig(
          "the initial extractor takes \(initial.input.size) px tiles, the set has \(set.size) px")
      }
      input = initial.input
      guard (input.pooling == "spectrum") == (m > 1) else {
        throw ExtractorTrainingError.badConfig(
          "the initial extractor pools its windows by \(input.pooling); train it with spectraPerInput "
            + (input.pooling == "spectrum" ? "above 1" : "1"))
      }
    } else {
      (input.mean, input.std) = set.channelStatistics(trainClasses, input: input)
      if config.standardisation == "frequency" {
        let (m, s) = set.frequencyStatistics(trainClasses, input: input)
        (input.frequencyMean, input.frequencyStd) = (m, s)
      }
    }
    var rng = RNG(seed: config.seed)
    let net = ResNet(
      depth: config.depth, width: config.width, classes: trainClasses.count, projection: config.projection,
      zeroInitResidual: config.zeroInitResidual ?? false, rng: &rng)
    let classNames = trainClasses.map { set.keys[$0] }
    if let initial {
      var state = initial.network.stateDict()
      let own = net.stateDict()
      if initial.classes != classNames {
        // A new classifier over the new classes, freshly initialised; everything else continues.
        for (k, v) in own where k.hasPrefix("cls.") { state[k] = v }
      }
      for (k, v) in state where own[k]?.shape != v.shape {
        throw ExtractorTrainingError.badConfig(
          "the initial extractor's \(k) is \(v.shape), this configuration's is \(own[k]?.shape.description ?? "absent")"
            + " (use the depth, width and projection it was trained with)")
      }
      try net.loadStateDict(state)
    }
    // Each process's batch norms see its own part; the first of a process's groups is its first rows.
    if parallel.localBatchNormGroups > 1 { net.setBatchNormGroups(parallel.localBatchNormGroups) }
    let extractor = Extractor(network: net, input: input, classes: classNames)
    let opt = Adam.adamW(net.parameters, learningRate: config.learningRate, weightDecay: config.weightDecay)
    let batchSize = config.modelsPerBatch * config.tilesPerClass
    let stepsPerEpoch = max(1, trainClasses.count * set.perClass / (batchSize * m))
    let warmup = min(stepsPerEpoch, max(1, config.steps / 20))
    let schedule = WarmupCosine(base: config.learningRate, warmupSteps: warmup, totalSteps: config.steps)
    // With only virtual generators (poolP 0) the sampler is never asked for a batch.
    // With M tiles per input the sampler draws K · M tiles of each model, M consecutive ones per input.
    let sampler = PKSampler(
      classes: trainClasses, perClass: set.perClass, p: max(poolP, 2), k: config.tilesPerClass * m,
      seed: config.seed &+ 1)
    let k = config.tilesPerClass
    var first = 0
    if let resume {
      try net.loadStateDict(resume.network)
      try opt.load(state: resume.optimizer)
      first = resume.step
    }
    let augmentation = config.augmentation.isActive ? config.augmentation : nil
    let seed = config.seed
    let rows = parallel.rows
    let classCount = trainClasses.count
    let prepare = { (step: Int) -> (Tensor, [Int]) in
      var (items, labels) = poolP > 0 ? sampler.batch(step: step) : ([], [])
      var arng = RNG(seed: seed &+ 2 &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
      // The whole batch's choices from the one stream, so that every process's part is the single-process
      // batch's rows; only this process's tiles are perturbed and transformed.
      let draws = augmentation.map { a in
        (0..<(items.count + virtual * k)).map { _ in a.draw(width: set.size, height: set.size, rng: &arng) }
      }
      guard virtual > 0, let photos else {
        guard m == 1 else {
          let x = set.batch(items, input: input, augmentation: augmentation, draws: draws, average: m)
          return (x, stride(from: 0, to: labels.count, by: m).map { labels[$0] })
        }
        let x = set.batch(
          Array(items[rows]), input: input, augmentation: augmentation, draws: draws.map { Array($0[rows]) })
        return (x, labels)
      }
      var images = items.map { set.image($0.0, $0.1) }
      var vrng = RNG(seed: seed &+ 3 &+ UInt64(step) &* 0xA24B_AED4_963E_E407)
      for j in 0..<virtual {
        let generator = VirtualGenerator.draw(size: set.size, rng: &vrng)
        var order = Array(0..<photos.count)
        for t in 0..<k { order.swapAt(t, t + vrng.int(photos.count - t)) }
        for t in order.prefix(k) { images.append(generator.apply(photos.image(t), rng: &vrng)) }
        // Labels past the classifier's classes: the triplet loss tells generators apart, the
        // cross-entropy leaves them out.
        labels += Array(repeating: classCount + j, count: k)
      }
      return (FingerprintedSet.spectra(images, input: input, augmentation: augmentation, draws: draws), labels)
    }
    var next = Prefetch { prepare(first) }
    for step in first..<config.steps {
      net.train()
      let (x, labels) = next.value
      if step + 1 < config.steps { next = Prefetch { prepare(step + 1) } }
      opt.learningRate = schedule.learningRate(at: step)
      opt.zeroGrad()
      let local = Array(labels[rows])
      let classLabels = labels.map { $0 < classCount ? $0 : -1 }
      let logits: Tensor
      let z: Tensor
      if let margin = config.cosineMargin {
        let e = net.embed(x)
        logits = cosineMarginLogits(
          e, weight: net.cls.weight, labels: local.map { $0 < classCount ? $0 : -1 },
          scale: config.cosineScale ?? ExtractorConfig.defaultCosineScale, margin: margin)
        z = net.proj(e)
      } else {
        (logits, z) = net.heads(x)
      }
      let l = logits.toLayout(.plain, differentiable: false).array
      let c = logits.shape[1]
      var correct = 0
      for (i, y) in local.enumerated() where y < classCount {
        let row = l[(i * c)..<((i + 1) * c)]
        if row.indices.max(by: { row[$0] < row[$1] })! - i * c == y { correct += 1 }
      }
      var lossValue: Float
      if group.size == 1 {
        let loss =
          crossEntropy(logits, labels: classLabels) + batchHardTriplet(z, labels: labels, margin: config.margin)
        loss.backward()
        lossValue = loss.item
      } else {
        let (ce, triplet) = parallel.losses(logits: logits, projection: z, labels: labels, margin: config.margin)
        (ce + triplet).backward()
        // One all-reduce: the gradients, this process's cross-entropy share and its correct count.
        let sums = parallel.allReduce(net.parameters, extra: [ce.item, Float(correct)])
        lossValue = sums[0] + triplet.item
        correct = Int(sums[1].rounded())
      }
      // The clip sees the summed gradient, the same on every process, so every AdamW step is the same.
      _ = clipGradNorm(net.parameters, maxNorm: config.clipNorm)
      opt.step()
      let epochEnd = (step + 1) % stepsPerEpoch == 0 || step + 1 == config.steps
      if group.size > 1 && epochEnd { try parallel.checkSameWeights(net.parameters, step: step + 1) }
      guard group.rank == 0 else { continue }
      onStep(
        Step(
          step: step, loss: lossValue, accuracy: Float(correct) / Float(max(poolP * k, 1)),
          learningRate: opt.learningRate))
      if epochEnd {
        onEpoch(extractor, (step + stepsPerEpoch) / stepsPerEpoch) {
          // A snapshot: parameters and statistics keep changing in place after it.
          Resume(
            step: step + 1, network: net.stateDict().mapValues { $0.toLayout(.plain, differentiable: false).copy() },
            optimizer: opt.state())
        }
      }
    }
    net.eval()
    return (extractor, heldClasses)
  }

  /// Zero-shot 1:N over held-out classes: the first `validationTilesPerModel` tiles of each, scored as
  /// the evaluation protocol scores identification (10-shot). With M tiles per input, input t of a
  /// model is the mean spectrum of its tiles t, t + 1, …, t + M − 1 (cyclically among those tiles), so
  /// that every model keeps as many inputs as tiles.
  public func zeroShot(_ extractor: Extractor, _ set: FingerprintedSet, classes: [Int])
    -> EvaluationResult.Identification
  {
    let n = min(config.validationTilesPerModel, set.perClass)
    let m = min(config.tilesPerInput, n)
    var items: [(Int, Int)] = []
    var labels: [Int] = []
    for c in classes {
      for t in 0..<n {
        for j in 0..<m { items.append((c, (t + j) % n)) }
        labels.append(c)
      }
    }
    var emb: [[Float]] = []
    let chunkSize = 256 * m
    for start in stride(from: 0, to: items.count, by: chunkSize) {
      let chunk = Array(items[start..<min(items.count, start + chunkSize)])
      emb += extractor.embed(
        spectra: set.batch(chunk, input: extractor.input, augmentation: nil, draws: nil, average: m))
    }
    return EvaluationProtocol.identification(emb, labels: labels)
  }
}

/// Why extractor training could not start.
public enum ExtractorTrainingError: Error, CustomStringConvertible, Equatable {
  case badConfig(String)
  /// The processes of a data-parallel run hold different weights after `step` steps (their MPI summed
  /// gradients differently on different ranks).
  case ranksDiverged(step: Int)

  public var description: String {
    switch self {
    case .badConfig(let why): return "extractor training settings: \(why)"
    case .ranksDiverged(let step):
      return "after step \(step) the ranks hold different weights: the MPI library's all-reduce did not give every "
        + "rank the same sum; use Open MPI, or another MPI whose reductions are reproducible across ranks"
    }
  }
}

/// A value computed on a background thread; `value` waits for it.
final class Prefetch<T>: @unchecked Sendable {
  private var result: T?
  private let done = DispatchSemaphore(value: 0)

  init(_ work: @escaping () -> T) {
    Thread.detachNewThread { [self] in
      result = work()
      done.signal()
    }
  }

  var value: T {
    done.wait()
    done.signal()
    return result!
  }
}
