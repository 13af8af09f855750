// libFuzzer entry point for the safetensors reader and the extractor checkpoint loader: any bytes must
// give a file (and an extractor, or a typed error about its metadata) or a SafetensorsError.

import CFuzzer
import Fingerprint
import Foundation
import NN

func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: bytes, count: count)
  do {
    let file = try Safetensors.decode(data, name: "fuzz-input", requireVersion: false)
    if file.metadata["extractor_format"] != nil { _ = try Extractor.load(file, name: "fuzz-input") }
  } catch is SafetensorsError {
  } catch {
    fatalError("untyped error \(error)")
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in bytes.map { fuzzSafetensors($0, count) } ?? 0 })
