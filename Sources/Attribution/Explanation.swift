// Why an image was attributed to a model, in the spectral domain: the image's residual spectrum beside
// the matched model's mean, their difference, and the frequency bands where the image's 1-D profile is
// closest to the matched model's relative to the other models' (paper Fig. 10 shows such spectra side by
// side).
//
// What "weighed most" means here: the network's decision is not decomposed (no gradients, no
// attribution maps of the ResNet). A band's weight is a diagnostic on the spectra the network reads:
// (mean |image − nearest other model|) − (mean |image − matched model|) over the band's radii of the 1-D
// profiles, in dB. A positive weight says the image's spectrum looks like the matched model's and unlike
// every other model's in that band; the bands with the largest positive weights are marked.

import Foundation
import Imaging
import Reports
import Spectral

/// The spectral explanation of one identification.
public struct Explanation: Codable, Equatable, Sendable {
  /// One ring of radii of the centred spectrum.
  public struct Band: Codable, Equatable, Sendable {
    /// Radii `low ..< high`, in cycles per window (0 = DC, side/2 = Nyquist along an axis).
    public var low: Int
    public var high: Int
    /// Mean |image − matched model| of the 1-D profiles over the band, dB.
    public var matchedDistance: Float
    /// The same for the closest other model in this band, nil with a one-model gallery.
    public var otherDistance: Float?
    /// That other model.
    public var otherModel: String?
    /// `otherDistance − matchedDistance` (−matchedDistance without another model); larger: weighed more.
    public var weight: Float
    /// One of the bands that weighed most (positive weight, among the largest).
    public var marked: Bool

    enum CodingKeys: String, CodingKey {
      case low, high, weight, marked
      case matchedDistance = "matched_distance"
      case otherDistance = "other_distance"
      case otherModel = "other_model"
    }
  }

  /// The matched model.
  public var model: String
  /// Window side in pixels; the maps are side × side.
  public var side: Int
  /// Mean centred log1p(255·|FFT2(residual)|) of the image's windows, row-major.
  public var imageSpectrum: [Float]
  /// The matched model's mean over its enrolled images.
  public var modelSpectrum: [Float]
  /// `imageSpectrum − modelSpectrum`.
  public var difference: [Float]
  /// 1-D profiles (dB per radius) of the image and the matched model.
  public var imageProfile: [Float]
  public var modelProfile: [Float]
  public var bands: [Band]

  enum CodingKeys: String, CodingKey {
    case model, side, difference, bands
    case imageSpectrum = "image_spectrum"
    case modelSpectrum = "model_spectrum"
    case imageProfile = "image_profile"
    case modelProfile = "model_profile"
  }

  /// Why an explanation cannot be made.
  public enum Problem: Error, CustomStringConvertible, Equatable, Sendable {
    /// The matched model has no spectra in the gallery (enrolled by a version that did not record them).
    case noSpectra(model: String)
    /// The gallery's spectra and the image's have different window sides.
    case sideMismatch(gallery: Int, image: Int)

    public var description: String {
      switch self {
      case .noSpectra(let m):
        return "model '\(m)' has no residual spectra in the gallery; enroll its images again to record them"
      case .sideMismatch(let g, let i):
        return "the gallery's spectra are of \(g) px windows, the image's of \(i) px; use the gallery's extractor"
      }
    }
  }

  /// The explanation of `image` (one image's spectra) being matched to `model`, among `models` (every
  /// model's summed spectra, the matched one included); `bands` equal rings from DC to the corner,
  /// `marked` of them flagged.
  public init(
    image: ResidualSpectra, model: String, models: [String: ResidualSpectra], bands count: Int = 8, marked: Int = 3
  ) throws {
    precondition(count >= 1 && marked >= 0, "Explanation: \(count) bands, \(marked) marked")
    guard let matched = models[model] else { throw Problem.noSpectra(model: model) }
    guard matched.side == image.side else { throw Problem.sideMismatch(gallery: matched.side, image: image.side) }
    self.model = model
    side = image.side
    imageSpectrum = image.meanSpectrum
    modelSpectrum = matched.meanSpectrum
    difference = zip(imageSpectrum, modelSpectrum).map(-)
    imageProfile = image.meanProfile
    modelProfile = matched.meanProfile
    let radii = imageProfile.count
    let others = models.filter { $0.key != model && $0.value.side == image.side }.sorted { $0.key < $1.key }
      .map { ($0.key, $0.value.meanProfile) }
    let p = imageProfile
    func distance(_ q: [Float], _ r: Range<Int>) -> Float {
      r.reduce(Float(0)) { $0 + abs(p[$1] - q[$1]) } / Float(max(r.count, 1))
    }
    var out: [Band] = []
    let n = min(count, radii)
    for b in 0..<n {
      let r = (b * radii / n)..<((b + 1) * radii / n)
      let own = distance(modelProfile, r)
      let nearest = others.map { ($0.0, distance($0.1, r)) }.min { $0.1 < $1.1 }
      out.append(
        Band(
          low: r.lowerBound, high: r.upperBound, matchedDistance: own, otherDistance: nearest?.1,
          otherModel: nearest?.0, weight: (nearest?.1 ?? 0) - own, marked: false))
    }
    let ranked = out.indices.filter { out[$0].weight > 0 }.sorted { out[$0].weight > out[$1].weight }
    for i in ranked.prefix(marked) { out[i].marked = true }
    self.bands = out
  }

  /// The figure: image spectrum, model spectrum and difference side by side (viridis, each map scaled
  /// `scale` times), with the marked bands' inner and outer rings drawn in white.
  public func figure(scale: Int = 4) -> Image {
    let maps = [imageSpectrum, modelSpectrum]
    // The two spectra share one colour scale, so that brighter means larger in both.
    let all = Heatmap(width: side, height: side * 2, values: maps[0] + maps[1])
    let shared = all.image()
    let spectra = maps.indices.map { shared.cropped(x: 0, y: $0 * side, width: side, height: side) }
    let diff = Heatmap(width: side, height: side, values: difference).image()
    return ContactSheet.make([(spectra + [diff]).map { marking(enlarged($0, scale), scale) }], gap: 6)
  }

  /// The 1-D profiles of the image and the matched model as an SVG chart, the marked bands named in the
  /// title.
  public var profileChart: String {
    let x = imageProfile.indices.map(Double.init)
    let marked = bands.filter(\.marked).map { "\($0.low)–\($0.high)" }.joined(separator: ", ")
    return LineChart(
      title: "residual spectrum profiles; bands that weighed most (radius): \(marked.isEmpty ? "none" : marked)",
      xLabel: "radius (cycles per \(side) px window)", yLabel: "dB",
      series: [
        .init(name: "image", x: x, y: imageProfile.map(Double.init)),
        .init(name: model, x: x, y: modelProfile.map(Double.init)),
      ]
    ).svg
  }

  private func enlarged(_ image: Image, _ k: Int) -> Image {
    let w = image.width * k
    let h = image.height * k
    var px = [Float](repeating: 0, count: 3 * w * h)
    for c in 0..<3 {
      for y in 0..<h {
        for x in 0..<w { px[(c * h + y) * w + x] = image[c, y / k, x / k] }
      }
    }
    return Image(width: w, height: h, pixels: px)
  }

  /// White pixels on the boundary radii of the marked bands (centre at side/2 as fftshift puts DC).
  private func marking(_ image: Image, _ k: Int) -> Image {
    var px = image.pixels
    let w = image.width
    let h = image.height
    let radii = bands.filter(\.marked).flatMap { [Double($0.low), Double($0.high)] }.filter { $0 > 0 }
    guard !radii.isEmpty else { return image }
    let c = Double(side / 2) * Double(k) + Double(k) / 2
    for y in 0..<h {
      for x in 0..<w {
        let d =
          ((Double(x) + 0.5 - c) * (Double(x) + 0.5 - c) + (Double(y) + 0.5 - c) * (Double(y) + 0.5 - c))
          .squareRoot() / Double(k)
        if radii.contains(where: { abs(d - $0) < 0.5 / Double(k) + 0.12 }) {
          for ch in 0..<3 { px[(ch * h + y) * w + x] = 1 }
        }
      }
    }
    return Image(width: w, height: h, pixels: px)
  }
}
