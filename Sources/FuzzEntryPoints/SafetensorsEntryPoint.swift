import Fingerprint
import Foundation
import NN

extension Exercise {
  /// `data` as a safetensors file (any version), then, when its metadata says it is an extractor
  /// checkpoint, as one: the loader checks the settings before the network is sized from them. Both
  /// refuse with `SafetensorsError`.
  public static func safetensors(_ data: Data, name: String) -> Outcome {
    Outcome.of(SafetensorsError.self) {
      let file = try Safetensors.decode(data, name: name, requireVersion: false)
      if file.metadata["extractor_format"] != nil { _ = try Extractor.load(file, name: name) }
      return .accepted
    }
  }
}
