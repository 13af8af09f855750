import Imaging
import NN
import Tensor

extension SyntheticModel {
  /// Real images through the model, as a generator would output them: [0, 1] → [−1, 1] → model (eval,
  /// no gradient) → [0, 1], clamped, and rounded to 8 bits when `quantize` (as saved image files are).
  ///
  /// - Parameter images: [N, 3, H, W] in [0, 1], H and W multiples of 2^K.
  /// - Returns: [N, 3, H, W] in [0, 1], plain layout.
  public func fingerprint(_ images: Tensor, quantize: Bool = true) -> Tensor {
    precondition(
      !isTraining, "SyntheticModel.fingerprint: call eval() first (batch statistics would leak between images)")
    let x = images.toLayout(.plain, differentiable: false)
    let input = Tensor(uninitialized: x.shape)
    withExtendedLifetime(x) {
      for i in 0..<x.count { input.pointer[i] = x.pointer[i] * 2 - 1 }
    }
    let y = withNoGrad { self(input) }.toLayout(.plain, differentiable: false)
    let out = Tensor(uninitialized: y.shape)
    withExtendedLifetime(y) {
      for i in 0..<y.count {
        let v = min(max((y.pointer[i] + 1) / 2, 0), 1)
        out.pointer[i] = quantize ? (v * 255).rounded() / 255 : v
      }
    }
    return out
  }

  /// ``fingerprint(_:quantize:)`` of images, in batches of `batch`.
  public func fingerprint(_ images: [Image], batch: Int = 16, quantize: Bool = true) -> [Image] {
    stride(from: 0, to: images.count, by: batch).flatMap { start -> [Image] in
      let chunk = Array(images[start..<min(start + batch, images.count)])
      let y = fingerprint(Image.batch(chunk), quantize: quantize)
      return (0..<chunk.count).map { Image(y, index: $0) }
    }
  }
}
