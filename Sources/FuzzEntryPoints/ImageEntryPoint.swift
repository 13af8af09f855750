import Foundation
import Imaging

extension Exercise {
  /// `data` as an image file: the EXIF orientation parser, then the decoder (signature sniffing, JPEG,
  /// PNG, WebP). Refusals are `ImageError`s; a decoded image must hold 3 × width × height values.
  public static func image(_ data: Data, name: String, decoder: ImageDecoder = ImageDecoder()) -> Outcome {
    _ = ExifOrientation.read(jpeg: data)
    return Outcome.of(ImageError.self) {
      let image = try decoder.decode(data, name: name)
      guard image.pixels.count == 3 * image.width * image.height else {
        return .broken("\(image.width)×\(image.height) image with \(image.pixels.count) values")
      }
      return .accepted
    }
  }
}
