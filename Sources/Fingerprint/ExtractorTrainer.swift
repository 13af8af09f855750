import Foundation
import NN
import Tensor

/// Trains a fingerprint extractor on a fingerprinted set: ResNet-18, cross-entropy over the training
/// models plus batch-hard triplet on the projection, AdamW with linear warm-up then cosine, gradients
/// zeroed each step and clipped after backward.
public struct ExtractorTrainer {
  public var config: ExtractorConfig

  public init(config: ExtractorConfig) { self.config = config }

  /// Architectures held out of training (a seeded `heldOutFraction` of those in the set).
  public func heldOutArchitectures(_ set: FingerprintedSet) -> Set<String> {
    if let given = config.heldOut { return Set(given) }
    var archs = Array(Set(set.architectures)).sorted()
    var rng = RNG(seed: config.seed &+ 17)
    let n = max(1, Int((config.heldOutFraction * Double(archs.count)).rounded()))
    for j in 0..<n { archs.swapAt(j, j + rng.int(archs.count - j)) }
    return Set(archs.prefix(n))
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
  /// training tiles (and at the end) with the state to checkpoint. Starts from `resume` when given.
  /// Returns the extractor and the held-out classes.
  public func train(
    _ set: FingerprintedSet, resume: Resume? = nil, onStep: (Step) -> Void = { _ in },
    onEpoch: (Extractor, Int, () -> Resume) -> Void = { _, _, _ in }
  ) throws -> (Extractor, heldOut: [Int]) {
    let held = heldOutArchitectures(set)
    let trainClasses = set.architectures.indices.filter { !held.contains(set.architectures[$0]) }
    let heldClasses = set.architectures.indices.filter { held.contains(set.architectures[$0]) }
    var input = SpectralInput()
    input.size = set.size
    (input.mean, input.std) = set.channelStatistics(trainClasses)
    var rng = RNG(seed: config.seed)
    let net = ResNet18(width: config.width, classes: trainClasses.count, projection: config.projection, rng: &rng)
    let extractor = Extractor(network: net, input: input, classes: trainClasses.map { set.keys[$0] })
    let opt = Adam.adamW(net.parameters, learningRate: config.learningRate, weightDecay: config.weightDecay)
    let batchSize = config.modelsPerBatch * config.tilesPerClass
    let stepsPerEpoch = max(1, trainClasses.count * set.perClass / batchSize)
    let warmup = min(stepsPerEpoch, max(1, config.steps / 20))
    let schedule = WarmupCosine(base: config.learningRate, warmupSteps: warmup, totalSteps: config.steps)
    let sampler = PKSampler(
      classes: trainClasses, perClass: set.perClass, p: config.modelsPerBatch, k: config.tilesPerClass,
      seed: config.seed &+ 1)
    var first = 0
    if let resume {
      try net.loadStateDict(resume.network)
      try opt.load(state: resume.optimizer)
      first = resume.step
    }
    for step in first..<config.steps {
      net.train()
      let (items, labels) = sampler.batch(step: step)
      let x = set.batch(items, input: input)
      opt.learningRate = schedule.learningRate(at: step)
      opt.zeroGrad()
      let (logits, z) = net.heads(x)
      let loss = crossEntropy(logits, labels: labels) + batchHardTriplet(z, labels: labels, margin: config.margin)
      loss.backward()
      _ = clipGradNorm(net.parameters, maxNorm: config.clipNorm)
      opt.step()
      let l = logits.toLayout(.plain, differentiable: false).array
      let c = logits.shape[1]
      var correct = 0
      for (i, y) in labels.enumerated() {
        let row = l[(i * c)..<((i + 1) * c)]
        if row.indices.max(by: { row[$0] < row[$1] })! - i * c == y { correct += 1 }
      }
      onStep(
        Step(
          step: step, loss: loss.item, accuracy: Float(correct) / Float(labels.count), learningRate: opt.learningRate))
      if (step + 1) % stepsPerEpoch == 0 || step + 1 == config.steps {
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

  /// Zero-shot 1:N over held-out classes: the first `validationTilesPerModel` tiles of each, 10-shot.
  public func zeroShot(_ extractor: Extractor, _ set: FingerprintedSet, classes: [Int]) -> (
    accuracy: Double, macroF1: Double
  ) {
    let m = min(config.validationTilesPerModel, set.perClass)
    var items: [(Int, Int)] = []
    var labels: [Int] = []
    for c in classes {
      for t in 0..<m {
        items.append((c, t))
        labels.append(c)
      }
    }
    var emb: [[Float]] = []
    for start in stride(from: 0, to: items.count, by: 256) {
      let chunk = Array(items[start..<min(items.count, start + 256)])
      emb += extractor.embed(spectra: set.batch(chunk, input: extractor.input))
    }
    return oneToN(emb, labels: labels)
  }
}
