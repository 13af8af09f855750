// libFuzzer entry point for a pool's files: the manifest (JSON) and the tile cache (binary). Both readers
// see every input; each must return or throw its typed error.

import CFuzzer
import Foundation
import Synthesis

func fuzzPool(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: bytes, count: count)
  do {
    let manifest = try PoolManifest.decode(data, name: "fuzz-input")
    // What a pool does with a manifest it accepted: index its entries by key.
    _ = Dictionary(uniqueKeysWithValues: manifest.models.map { ($0.key, $0) })
  } catch is PoolError {
  } catch {
    fatalError("untyped error \(error)")
  }
  do {
    let tiles = try TileSet.decode(data, name: "fuzz-input")
    _ = tiles.image(tiles.count - 1)
  } catch is TileSetError {
  } catch {
    fatalError("untyped error \(error)")
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in bytes.map { fuzzPool($0, count) } ?? 0 })
