import Foundation

/// A learning-rate schedule: the rate for a 0-based step.
public protocol LearningRateSchedule: Sendable {
  func learningRate(at step: Int) -> Float
}

/// Linear warm-up from 0 to `base` over `warmupSteps`, then cosine decay to `minimum` at `totalSteps`.
public struct WarmupCosine: LearningRateSchedule, Codable, Equatable {
  public var base: Float
  public var warmupSteps: Int
  public var totalSteps: Int
  public var minimum: Float

  public init(base: Float, warmupSteps: Int, totalSteps: Int, minimum: Float = 0) {
    precondition(
      totalSteps > 0 && warmupSteps >= 0 && warmupSteps <= totalSteps,
      "WarmupCosine needs 0 ≤ warmup (\(warmupSteps)) ≤ total (\(totalSteps)), total > 0")
    self.base = base
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.minimum = minimum
  }

  public func learningRate(at step: Int) -> Float {
    if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
    let span = max(totalSteps - warmupSteps, 1)
    let t = min(Double(step - warmupSteps) / Double(span), 1)
    return minimum + (base - minimum) * Float(0.5 * (1 + cos(Double.pi * t)))
  }
}

/// Cosine annealing with warm restarts (SGDR; PyTorch's `CosineAnnealingWarmRestarts`): the first
/// cycle lasts `firstCycle` steps, each next one `multiplier` times longer.
public struct CosineWarmRestarts: LearningRateSchedule, Codable, Equatable {
  public var base: Float
  public var firstCycle: Int
  public var multiplier: Int
  public var minimum: Float

  public init(base: Float, firstCycle: Int, multiplier: Int = 1, minimum: Float = 0) {
    precondition(firstCycle > 0 && multiplier >= 1, "CosineWarmRestarts needs firstCycle > 0 and multiplier ≥ 1")
    self.base = base
    self.firstCycle = firstCycle
    self.multiplier = multiplier
    self.minimum = minimum
  }

  public func learningRate(at step: Int) -> Float {
    var t = step
    var cycle = firstCycle
    while t >= cycle {
      t -= cycle
      cycle *= multiplier
    }
    return minimum + (base - minimum) * Float(0.5 * (1 + cos(Double.pi * Double(t) / Double(cycle))))
  }
}
