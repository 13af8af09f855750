// The residual stage of the pipeline: image − denoise(image), the part of an image that carries a
// generator's fingerprint rather than the scene.

import Tensor

/// Something that turns images into residuals: the stage between an image and its spectrum.
///
/// Conformers:
/// - ``HighPassResidual``: image − 3×3 box blur, fixed and free (the reference method's choice).
/// - ``LearnedDenoiser``: a DnCNN that predicts the noise residual directly.
/// - Extension point: another learned denoiser conforms the same way (its predicted residual, or
///   image − output if it predicts the clean image); ``Spectrum/logResidualSpectrum(_:residual:scale:)``
///   and everything downstream take any `ResidualExtractor`, so nothing here changes when it arrives.
public protocol ResidualExtractor {
  /// The residuals of a batch.
  ///
  /// - Parameter images: [N, 3, H, W], values in [0, 1], any layout.
  /// - Returns: [N, 3, H, W] residuals, plain layout.
  func residual(_ images: Tensor) -> Tensor
}
