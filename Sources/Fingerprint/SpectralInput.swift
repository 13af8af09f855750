import Foundation
import Imaging
import Spectral
import Tensor

/// How an image becomes the extractor's input: residual, spectrum variant and per-channel
/// standardisation. Stored in every extractor checkpoint, so inference always uses the settings the
/// network was trained with.
public struct SpectralInput: Codable, Equatable, Sendable {
  /// Equal settings with the same denoiser object (or none): what makes two members' inputs one.
  public static func == (a: SpectralInput, b: SpectralInput) -> Bool {
    a.size == b.size && a.residual == b.residual && a.spectrum == b.spectrum && a.mean == b.mean && a.std == b.std
      && a.frequencyMean == b.frequencyMean && a.frequencyStd == b.frequencyStd && a.pooling == b.pooling
      && a.denoiser === b.denoiser
  }

  /// Patch side in pixels.
  public var size: Int = 64
  /// `highpass`: image − 3×3 box blur (reflect padding); `denoiser`: the noise ``denoiser`` predicts
  /// (the paper's denoiser residual), whose weights the checkpoint carries. A checkpoint naming another
  /// is refused on load (see ``problem``) rather than fed the wrong input.
  public var residual: String = "highpass"
  /// The learned denoiser of the `denoiser` residual. Not part of the JSON settings: its weights are
  /// tensors of the extractor checkpoint (``Extractor``), attached when it is loaded.
  public var denoiser: LearnedDenoiser? = nil
  /// `log1p-shift`: fftshift(log1p(255·|FFT2|)) per colour channel, the only spectrum this build
  /// computes; checked on load like ``residual``.
  public var spectrum: String = "log1p-shift"
  /// Per-channel mean and standard deviation of the training spectra.
  public var mean: [Float] = [0, 0, 0]
  public var std: [Float] = [1, 1, 1]
  /// Per-frequency mean and standard deviation (3·size² values each, channel-major like the spectra),
  /// used instead of ``mean`` and ``std`` when present. The log spectrum falls by orders of magnitude
  /// from DC to the corners, so one scale per channel leaves the low frequencies dominating the input;
  /// per-frequency statistics put every bin, the high ones where up-sampling artifacts sit included, on
  /// one scale.
  public var frequencyMean: [Float]? = nil
  public var frequencyStd: [Float]? = nil
  /// How an image's windows make one embedding: `embedding`, the mean of the window embeddings, or
  /// `spectrum`, one embedding of the mean of the windows' raw log spectra (for an extractor trained on
  /// spectra averaged over several tiles of a model, `ExtractorConfig.spectraPerInput`), meant to keep
  /// what the windows share, the generator's traces, and shrink their content by √(windows). Measured
  /// at full size it lost on real generators (docs/accuracy.md, seventh round); nothing shipped uses it.
  public var pooling: String = "embedding"

  public init() {}

  enum CodingKeys: String, CodingKey {
    case size, residual, spectrum, mean, std, frequencyMean, frequencyStd, pooling
  }

  /// Absent keys take their defaults (checkpoints written before per-frequency statistics existed).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = SpectralInput()
    size = try c.decodeIfPresent(Int.self, forKey: .size) ?? d.size
    residual = try c.decodeIfPresent(String.self, forKey: .residual) ?? d.residual
    spectrum = try c.decodeIfPresent(String.self, forKey: .spectrum) ?? d.spectrum
    mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? d.mean
    std = try c.decodeIfPresent([Float].self, forKey: .std) ?? d.std
    frequencyMean = try c.decodeIfPresent([Float].self, forKey: .frequencyMean)
    frequencyStd = try c.decodeIfPresent([Float].self, forKey: .frequencyStd)
    pooling = try c.decodeIfPresent(String.self, forKey: .pooling) ?? d.pooling
  }

  /// The window poolings ``pooling`` may name.
  public static let poolings = ["embedding", "spectrum"]

  /// The standardisations training can compute (`ExtractorConfig.standardisation`).
  public static let standardisations = ["channel", "frequency"]

  /// The residuals and spectra ``rawSpectra(_:into:)`` computes.
  public static let residuals = ["highpass", "denoiser"]
  public static let spectra = ["log1p-shift"]
  /// Patch sides a checkpoint may give: the high-pass residual needs 2 px, and beyond 4096 px one
  /// window's spectrum alone would take hundreds of megabytes.
  public static let sizes = 2...4096

  /// Why these settings cannot be used (as read from a checkpoint), or nil when they can.
  public var problem: String? {
    if !Self.residuals.contains(residual) {
      return "residual '\(residual)' is not one this build computes (\(Self.residuals.joined(separator: ", ")))"
    }
    if residual == "denoiser" && denoiser == nil {
      return "residual 'denoiser' needs the denoiser's weights, which are missing"
    }
    if residual != "denoiser" && denoiser != nil { return "a denoiser is attached to the '\(residual)' residual" }
    if !Self.spectra.contains(spectrum) {
      return "spectrum '\(spectrum)' is not one this build computes (\(Self.spectra.joined(separator: ", ")))"
    }
    if !Self.sizes.contains(size) { return "patch size \(size) is outside \(Self.sizes)" }
    if !Self.poolings.contains(pooling) {
      return "window pooling '\(pooling)' is not one this build computes (\(Self.poolings.joined(separator: ", ")))"
    }
    guard mean.count == 3, std.count == 3 else {
      return "mean and std need 3 values (one per colour channel), got \(mean.count) and \(std.count)"
    }
    guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
      return "mean \(mean) and std \(std) must be finite, std positive"
    }
    switch (frequencyMean, frequencyStd) {
    case (nil, nil): break
    case (let m?, let s?):
      guard m.count == 3 * size * size, s.count == m.count else {
        return
          "per-frequency statistics need 3·\(size)² = \(3 * size * size) values each, got \(m.count) and \(s.count)"
      }
      guard m.allSatisfy(\.isFinite), s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
        return "per-frequency mean and std must be finite, std positive"
      }
    default: return "per-frequency mean and std must come together"
    }
    return nil
  }

  /// Spectra of `images` ([N, 3, size, size] in [0, 1]) into `out` (N·3·size·size floats), unstandardised.
  public func rawSpectra(_ images: Tensor, into out: UnsafeMutablePointer<Float>) {
    precondition(
      images.shape.rank == 4 && images.shape[1] == 3 && images.shape[2] == size && images.shape[3] == size,
      "SpectralInput(size: \(size)) got \(images.shape)")
    let s =
      if let denoiser { Spectrum.logResidualSpectrum(images, residual: denoiser) } else {
        Spectrum.logResidualSpectrum(images)
      }
    withExtendedLifetime(s) { out.update(from: s.pointer, count: s.count) }
  }

  /// Means of consecutive groups of `m` spectra: `raw` holds `groups · m` spectra (3·size² floats each),
  /// `out` receives `groups`. Summed in group order, so the result does not depend on the thread count.
  public func meanSpectra(_ raw: UnsafePointer<Float>, groups: Int, of m: Int, into out: UnsafeMutablePointer<Float>) {
    precondition(groups >= 0 && m >= 1, "SpectralInput.meanSpectra: \(groups) groups of \(m)")
    let per = 3 * size * size
    let scale = 1 / Float(m)
    Threads.parallelFor(groups) { g in
      let q = out + g * per
      let first = raw + g * m * per
      for j in 0..<per { q[j] = first[j] }
      for w in 1..<m {
        let r = first + w * per
        for j in 0..<per { q[j] += r[j] }
      }
      for j in 0..<per { q[j] *= scale }
    }
  }

  /// Standardises spectra in place with ``frequencyMean`` and ``frequencyStd`` when present, else with
  /// ``mean`` and ``std``.
  public func standardise(_ p: UnsafeMutablePointer<Float>, count n: Int) {
    let plane = size * size
    // Spectra are independent, so they are split over the kernel threads; each value is computed as in
    // a serial loop, so the result does not depend on the thread count.
    if let fm = frequencyMean, let fs = frequencyStd {
      let inv = fs.map { 1 / $0 }
      Threads.parallelFor(n) { i in
        let q = p + i * 3 * plane
        for j in 0..<(3 * plane) { q[j] = (q[j] - fm[j]) * inv[j] }
      }
      return
    }
    let m = mean
    let inv = std.map { 1 / $0 }
    Threads.parallelFor(n * 3) { ic in
      let q = p + ic * plane
      let c = ic % 3
      for j in 0..<plane { q[j] = (q[j] - m[c]) * inv[c] }
    }
  }

  /// The standardised network input for `images`, [N, 3, size, size].
  public func callAsFunction(_ images: Tensor) -> Tensor {
    let out = Tensor(uninitialized: images.shape)
    rawSpectra(images, into: out.pointer)
    standardise(out.pointer, count: images.shape[0])
    return out
  }

  /// The standardised network input for consecutive groups of `m` images ([N, 3, size, size], N a
  /// multiple of m): the mean of each group's raw spectra, [N / m, 3, size, size].
  public func callAsFunction(_ images: Tensor, averaging m: Int) -> Tensor {
    precondition(m >= 1 && images.shape[0] % m == 0, "SpectralInput: \(images.shape) in groups of \(m)")
    guard m > 1 else { return self(images) }
    let raw = Tensor(uninitialized: images.shape)
    rawSpectra(images, into: raw.pointer)
    let n = images.shape[0] / m
    let out = Tensor(uninitialized: [n, 3, size, size])
    meanSpectra(raw.pointer, groups: n, of: m, into: out.pointer)
    standardise(out.pointer, count: n)
    return out
  }

  /// Top-left corners of an n × n grid of `size` windows spread evenly from edge to edge of a
  /// `width`×`height` image (rounded as numpy's linspace then round).
  public func windowOrigins(width: Int, height: Int, grid n: Int) -> [(x: Int, y: Int)] {
    func spread(_ extent: Int) -> [Int] {
      n == 1
        ? [(extent - size) / 2]
        : (0..<n).map { Int((Double(extent - size) * Double($0) / Double(n - 1)).rounded(.toNearestOrEven)) }
    }
    let ys = spread(height)
    let xs = spread(width)
    return ys.flatMap { y in xs.map { (x: $0, y: y) } }
  }

  /// The n × n windows of an image (scaled up first, bicubic, when its shorter side is below `size`;
  /// the longer side then stops at `Image.maxUpscaledAspect` times `size`, so that a thin strip cannot
  /// take gigabytes).
  public func windows(_ image: Image, grid n: Int) -> [Image] {
    var img = image
    if min(img.width, img.height) < size {
      let f = Double(size) / Double(min(img.width, img.height))
      let cap = Image.maxUpscaledAspect * size
      img = img.resized(
        width: min(cap, max(size, Int((Double(img.width) * f).rounded()))),
        height: min(cap, max(size, Int((Double(img.height) * f).rounded()))),
        filter: .bicubic)
    }
    return windowOrigins(width: img.width, height: img.height, grid: n).map {
      img.cropped(x: $0.x, y: $0.y, width: size, height: size)
    }
  }
}
