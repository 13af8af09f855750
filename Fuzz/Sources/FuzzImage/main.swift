// libFuzzer entry point for the image decoders: signature sniffing, JPEG (with its EXIF orientation
// parser), PNG and WebP. Every input must decode or throw an ImageError.

import CFuzzer
import Foundation
import Imaging

/// A lower pixel limit than the default keeps each run's allocations small; the guard is the same code.
let decoder = ImageDecoder(maxPixels: 1 << 22)

func fuzzImage(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: bytes, count: count)
  _ = ExifOrientation.read(jpeg: data)
  do {
    let image = try decoder.decode(data, name: "fuzz-input")
    precondition(image.pixels.count == 3 * image.width * image.height, "decoder returned an inconsistent image")
  } catch is ImageError {
  } catch {
    fatalError("untyped error \(error)")
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in bytes.map { fuzzImage($0, count) } ?? 0 })
