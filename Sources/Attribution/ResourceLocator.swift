import Foundation

/// Finds the files ModelPrint ships (the extractor, the denoiser, the demo and photo sets) wherever the
/// binary runs from. A resource is a path relative to a resource root (`models/extractor.safetensors`);
/// the roots are searched in this order:
///
/// 1. `$MODELPRINT_HOME`, when set (a folder holding `models/`, `weights/` and `data/`);
/// 2. `<prefix>/share/modelprint`, where the executable is `<prefix>/bin/modelprint` (what
///    `scripts/install.sh` lays out; symbolic links to the executable are followed);
/// 3. the executable's own folder (an unpacked archive with `models/` beside the binary);
/// 4. the package checkout the executable was built in (`.build/<triple>/<config>/modelprint`), so that
///    a development build works from any folder;
/// 5. the current directory.
///
/// Paths given explicitly on a command line are never looked up here: they mean what they say.
public struct ResourceLocator: Sendable {
  /// The environment variable that names a resource root ahead of every other.
  public static let environmentVariable = "MODELPRINT_HOME"

  /// The value of ``environmentVariable``, if set and not empty.
  public var home: String?
  /// The running executable, symbolic links resolved (nil when unknown).
  public var executable: URL?
  /// The folder relative paths are taken from.
  public var currentDirectory: URL

  /// A locator for explicit settings (tests, embedding applications).
  public init(home: String?, executable: URL?, currentDirectory: URL) {
    self.home = home.flatMap { $0.isEmpty ? nil : $0 }
    self.executable = executable
    self.currentDirectory = currentDirectory
  }

  /// The locator of this process: its environment, `/proc/self/exe` and its working directory.
  public static var process: ResourceLocator {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return ResourceLocator(
      home: ProcessInfo.processInfo.environment[environmentVariable],
      executable: exe.path == "/proc/self/exe" ? nil : exe,
      currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
  }

  /// The resource roots in search order, each with how it was found (for error messages).
  public var roots: [(folder: URL, origin: String)] {
    var out: [(URL, String)] = []
    if let home {
      out.append((URL(fileURLWithPath: home, isDirectory: true), "$\(Self.environmentVariable)"))
    }
    if let executable {
      let bin = executable.deletingLastPathComponent()
      out.append((bin.deletingLastPathComponent().appendingPathComponent("share/modelprint"), "install prefix"))
      out.append((bin, "beside the executable"))
      if let checkout = Self.checkout(above: bin) { out.append((checkout, "build checkout")) }
    }
    out.append((currentDirectory, "current directory"))
    return out
  }

  /// The first root holding `relative`.
  /// - Throws: ``ResourceNotFound`` naming every place searched.
  public func locate(_ relative: String) throws -> URL {
    let fm = FileManager.default
    for root in roots {
      let url = root.folder.appendingPathComponent(relative)
      if fm.fileExists(atPath: url.path) { return url.standardizedFileURL }
    }
    throw ResourceNotFound(
      resource: relative,
      searched: roots.map { "\($0.folder.appendingPathComponent(relative).standardizedFileURL.path) (\($0.origin))" },
      homeIsSet: home != nil)
  }

  /// The package folder (one with `Package.swift`) at most three levels above a build's executable
  /// folder: `.build/debug` is a link to `.build/<triple>/debug`, and links are already resolved.
  private static func checkout(above bin: URL) -> URL? {
    var folder = bin
    for _ in 0..<3 {
      folder = folder.deletingLastPathComponent()
      guard folder.lastPathComponent != ".." else { return nil }
      if folder.lastPathComponent != ".build",
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path)
      {
        return folder
      }
    }
    return nil
  }
}

/// A shipped resource that is in none of the places searched.
public struct ResourceNotFound: Error, CustomStringConvertible, Sendable {
  /// The relative path looked for.
  public var resource: String
  /// Every full path tried, in order, with the reason each was tried.
  public var searched: [String]
  /// Whether ``ResourceLocator/environmentVariable`` was set.
  public var homeIsSet: Bool

  public var description: String {
    "\(resource): not found; looked in "
      + searched.joined(separator: ", ")
      + ". Install with scripts/install.sh, set \(ResourceLocator.environmentVariable) to the folder holding "
      + "models/, weights/ and data/\(homeIsSet ? " (it is set, but that folder lacks the file)" : ""), "
      + "or give the path explicitly"
  }
}
