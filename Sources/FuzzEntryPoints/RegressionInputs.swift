import Foundation

/// The committed inputs that once broke a reader: `Tests/Fixtures/fuzz/<target>/` of this checkout
/// (see Fuzz/README.md), found from this file's path as the tests find their fixtures.
public enum RegressionInputs {
  /// The folder of a fuzz target's inputs; `target` is `image`, `safetensors`, `pool` or `gallery`.
  public static func folder(_ target: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/fuzz/\(target)")
  }

  /// Every file in the folder of `target`, in name order (an empty list when there are none, which the
  /// tests refuse).
  public static func files(_ target: String) throws -> [URL] {
    let folder = folder(target)
    return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
      folder.appendingPathComponent($0)
    }
  }
}
