// Identification and verification metrics, defined as scikit-learn defines them so that numbers compare
// with published ones; `Tests/Fixtures/reference/metrics.json` (scripts/reference/make_metric_fixtures.py)
// holds scikit-learn's values for the tests.

/// Identification (1:N) metrics over predicted and true class labels.
public enum Metrics {
  /// The fraction of predictions equal to the truth (`sklearn.metrics.accuracy_score`).
  public static func accuracy(truth: [Int], predicted: [Int]) -> Double {
    precondition(truth.count == predicted.count, "accuracy: \(truth.count) labels, \(predicted.count) predictions")
    guard !truth.isEmpty else { return 0 }
    return Double(zip(truth, predicted).filter { $0 == $1 }.count) / Double(truth.count)
  }

  /// The unweighted mean of per-class F1 over every class that occurs in the truth or the predictions
  /// (`f1_score(average="macro")`); a class with no true positive scores 0, as scikit-learn's
  /// `zero_division` default does.
  public static func macroF1(truth: [Int], predicted: [Int]) -> Double {
    precondition(truth.count == predicted.count, "macroF1: \(truth.count) labels, \(predicted.count) predictions")
    let classes = Set(truth).union(predicted)
    guard !classes.isEmpty else { return 0 }
    var tp: [Int: Int] = [:]
    var fp: [Int: Int] = [:]
    var fn: [Int: Int] = [:]
    for (t, p) in zip(truth, predicted) {
      if t == p {
        tp[t, default: 0] += 1
      } else {
        fp[p, default: 0] += 1
        fn[t, default: 0] += 1
      }
    }
    let f1 = classes.map { c -> Double in
      let t = tp[c] ?? 0
      return t == 0 ? 0 : 2 * Double(t) / Double(2 * t + (fp[c] ?? 0) + (fn[c] ?? 0))
    }
    return f1.reduce(0, +) / Double(classes.count)
  }

  /// Verification accuracy at the best threshold over the observed scores (a pair is "same" iff its
  /// score ≥ t), as the evaluation protocol defines it: the threshold that accepts nothing is not tried.
  public static func bestThresholdAccuracy(scores: [Float], same: [Bool]) -> (accuracy: Double, threshold: Float) {
    precondition(
      scores.count == same.count && !scores.isEmpty,
      "bestThresholdAccuracy: \(scores.count) scores, \(same.count) labels")
    let order = scores.indices.sorted { ascending(scores[$0], scores[$1]) }
    let positives = Double(same.filter { $0 }.count)
    var best = -1.0
    var bestThreshold = scores[order[0]]
    var negativesBelow = 0.0
    var positivesBelow = 0.0
    var i = 0
    while i < order.count {
      let t = scores[order[i]]
      let accuracy = (negativesBelow + positives - positivesBelow) / Double(order.count)
      if accuracy > best {
        best = accuracy
        bestThreshold = t
      }
      // `repeat`: a NaN score equals nothing, not even itself, and must still be consumed.
      repeat {
        if same[order[i]] { positivesBelow += 1 } else { negativesBelow += 1 }
        i += 1
      } while i < order.count && scores[order[i]] == t
    }
    return (best, bestThreshold)
  }
}

/// A receiver operating characteristic: for every distinct score t (from high to low), the rates at which
/// "same iff score ≥ t" accepts different pairs (FPR, the false accept rate) and same pairs (TPR), as
/// `sklearn.metrics.roc_curve(drop_intermediate=False)` gives them.
public struct ROCCurve: Sendable {
  /// False positive rates, from 0 (first point, threshold +∞) to 1.
  public let falsePositiveRates: [Double]
  /// True positive rates, from 0 to 1.
  public let truePositiveRates: [Double]
  /// The threshold of each point; the first is +∞ (nothing accepted).
  public let thresholds: [Float]

  /// The curve of `scores` with labels `same`; both classes must occur.
  public init(scores: [Float], same: [Bool]) {
    precondition(scores.count == same.count, "ROCCurve: \(scores.count) scores, \(same.count) labels")
    let order = scores.indices.sorted { ascending(scores[$1], scores[$0]) }
    var fps = [0.0]
    var tps = [0.0]
    var thresholds = [Float.infinity]
    var i = 0
    while i < order.count {
      let t = scores[order[i]]
      var f = fps.last!
      var p = tps.last!
      repeat {
        if same[order[i]] { p += 1 } else { f += 1 }
        i += 1
      } while i < order.count && scores[order[i]] == t
      fps.append(f)
      tps.append(p)
      thresholds.append(t)
    }
    let negatives = fps.last!
    let positives = tps.last!
    precondition(
      negatives > 0 && positives > 0, "ROCCurve needs same and different pairs, got \(positives) and \(negatives)")
    falsePositiveRates = fps.map { $0 / negatives }
    truePositiveRates = tps.map { $0 / positives }
    self.thresholds = thresholds
  }

  /// The area under the curve (trapezoids; equal to the Mann–Whitney statistic with tied scores
  /// counted half, as `roc_auc_score`).
  public var auc: Double {
    var area = 0.0
    for k in 1..<falsePositiveRates.count {
      area +=
        (falsePositiveRates[k] - falsePositiveRates[k - 1]) * (truePositiveRates[k] + truePositiveRates[k - 1]) / 2
    }
    return area
  }

  /// The equal error rate: where the piecewise-linear curve crosses FPR = FNR (FNR = 1 − TPR).
  ///
  /// Between the last point with FPR < FNR and the first with FPR ≥ FNR the rates are interpolated
  /// linearly and the crossing is exact. Its threshold is interpolated the same way between the two
  /// points' thresholds (the second point's when the first is the +∞ point).
  public var equalErrorRate: (rate: Double, threshold: Float) {
    let gap = zip(falsePositiveRates, truePositiveRates).map { $0 - (1 - $1) }
    let j = gap.firstIndex { $0 >= 0 }!
    if j == 0 { return (falsePositiveRates[0], thresholds[0]) }
    let i = j - 1
    let t = -gap[i] / (gap[j] - gap[i])
    let rate = falsePositiveRates[i] + t * (falsePositiveRates[j] - falsePositiveRates[i])
    let threshold =
      thresholds[i].isFinite ? thresholds[i] + Float(t) * (thresholds[j] - thresholds[i]) : thresholds[j]
    return (rate, threshold)
  }

  /// The highest true positive rate among points whose FPR ≤ `far`, and its threshold (no interpolation:
  /// an operating point that the scores actually reach).
  public func truePositiveRate(atFalsePositiveRate far: Double) -> (rate: Double, threshold: Float) {
    let k = falsePositiveRates.lastIndex { $0 <= far }!
    return (truePositiveRates[k], thresholds[k])
  }
}

/// `a < b`, with NaN below every number: a strict weak order even when an extractor gave NaN scores, so
/// that sorting is well defined and every NaN forms a tie group of its own, scored as the lowest score.
func ascending(_ a: Float, _ b: Float) -> Bool { a < b || (a.isNaN && !b.isNaN) }
