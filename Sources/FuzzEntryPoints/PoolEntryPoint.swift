import Foundation
import Synthesis

extension Exercise {
  /// `data` as both of a pool's files, since either may be handed any bytes: the manifest (JSON,
  /// refused with `PoolError`) and the tile cache (binary, refused with `TileSetError`).
  public static func pool(_ data: Data, name: String) -> (manifest: Outcome, tileCache: Outcome) {
    let manifest = Outcome.of(PoolError.self) {
      let manifest = try PoolManifest.decode(data, name: name)
      // What a pool does with a manifest it accepted: index its entries by key (traps on a duplicate).
      _ = Dictionary(uniqueKeysWithValues: manifest.models.map { ($0.key, $0) })
      return .accepted
    }
    let tileCache = Outcome.of(TileSetError.self) {
      let tiles = try TileSet.decode(data, name: name)
      // The last tile ends where the header's sizes say the data ends.
      if tiles.count > 0 { _ = tiles.image(tiles.count - 1) }
      return .accepted
    }
    return (manifest, tileCache)
  }
}
