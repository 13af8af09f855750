import Foundation
import Imaging
import NN
import Tensor

/// A trained fingerprint extractor: the network and the input settings it was trained with.
public final class Extractor {
  /// Checkpoint format version (metadata key `format_version` is the safetensors layer's).
  public static let formatVersion = 1

  public let network: ResNet
  public let input: SpectralInput
  /// Names of the training classes (pool model keys), in logit order.
  public let classes: [String]

  public init(network: ResNet, input: SpectralInput, classes: [String]) {
    self.network = network
    self.input = input
    self.classes = classes
  }

  /// Embeddings [N, embedding width] of standardised inputs, batch by batch, in eval mode.
  ///
  /// Several threads may embed with one extractor at once (a server's requests): the network is left
  /// in eval mode after loading, so concurrent calls only read it. A network in training mode is put in
  /// eval mode first, which must not happen while another thread uses it.
  public func embed(spectra: Tensor, batch: Int = 256) -> [[Float]] {
    if network.isTraining { network.eval() }
    let n = spectra.shape[0]
    let per = spectra.count / n
    var out: [[Float]] = []
    for start in stride(from: 0, to: n, by: batch) {
      let m = min(batch, n - start)
      let x = Tensor(uninitialized: [m, spectra.shape[1], spectra.shape[2], spectra.shape[3]])
      x.pointer.update(from: spectra.pointer + start * per, count: m * per)
      let e = withNoGrad { network.embed(x) }.toLayout(.plain, differentiable: false)
      let d = e.shape[1]
      let values = e.array
      for i in 0..<m { out.append(Array(values[(i * d)..<((i + 1) * d)])) }
    }
    return out
  }

  /// Image embeddings: the mean of the window embeddings of an n × n grid of patch-size windows.
  public func embed(images: [Image], grid: Int = 3, batch: Int = 256) -> [[Float]] {
    let wins = grid * grid
    var out: [[Float]] = []
    for start in stride(from: 0, to: images.count, by: max(1, batch / wins)) {
      let chunk = images[start..<min(images.count, start + max(1, batch / wins))]
      let windows = chunk.flatMap { input.windows($0, grid: grid) }
      let e = embed(spectra: input(Image.batch(windows)), batch: batch)
      for i in 0..<chunk.count {
        var m = [Float](repeating: 0, count: e[0].count)
        for w in 0..<wins { for j in m.indices { m[j] += e[i * wins + w][j] / Float(wins) } }
        out.append(m)
      }
    }
    return out
  }

  /// Saves weights and settings atomically; `extra` metadata is added (config, results).
  public func save(to url: URL, extra: [String: String] = [:]) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    var meta = extra
    meta["extractor_format"] = "\(Self.formatVersion)"
    meta["architecture"] = "resnet\(network.depth)"
    meta["width"] = "\(network.width)"
    meta["projection"] = "\(network.proj.weight.shape[0])"
    meta["input"] = String(decoding: try encoder.encode(input), as: UTF8.self)
    meta["classes"] = String(decoding: try encoder.encode(classes), as: UTF8.self)
    try network.save(to: url, metadata: meta)
  }

  /// Loads a checkpoint written by ``save(to:extra:)``.
  public static func load(from url: URL) throws -> Extractor {
    let file = try Safetensors.read(url)
    let m = file.metadata
    guard m["extractor_format"] == "\(formatVersion)",
      let depth = m["architecture"].flatMap({ Int($0.dropFirst("resnet".count)) }),
      m["architecture"]?.hasPrefix("resnet") == true, ResNet.depths.contains(depth),
      let w = m["width"].flatMap(Int.init),
      let p = m["projection"].flatMap(Int.init), let i = m["input"], let c = m["classes"],
      let input = try? JSONDecoder().decode(SpectralInput.self, from: Data(i.utf8)),
      let classes = try? JSONDecoder().decode([String].self, from: Data(c.utf8))
    else {
      throw SafetensorsError.corrupted(
        path: url.path, reason: "not a ModelPrint extractor checkpoint (missing or unknown extractor metadata)")
    }
    var rng = RNG(seed: 0)
    let net = ResNet(depth: depth, width: w, classes: classes.count, projection: p, rng: &rng)
    do { try net.loadStateDict(file.tensors) } catch {
      throw SafetensorsError.corrupted(path: url.path, reason: "\(error)")
    }
    net.eval()
    return Extractor(network: net, input: input, classes: classes)
  }
}
