import Foundation
import XCTest

/// Every command's `--help` against a stored copy in `Golden/<command path>.txt`, so that a change of a
/// help text is a visible, reviewed diff. Regenerate after changing help texts on purpose:
/// `MODELPRINT_UPDATE_GOLDEN=1 swift test --filter ModelPrintCLITests.HelpGoldenTests`, then read the diff.
final class HelpGoldenTests: XCTestCase {
  /// Every command path, hidden ones included (their help is still what a user of them reads).
  static let commands: [[String]] = [
    [], ["demo"], ["architectures"], ["synthesize"], ["synthesize-worker"], ["pool"], ["pool", "merge"],
    ["pool", "verify"], ["generate"], ["ffd"], ["train"], ["embed"], ["spectrum"], ["train-denoiser"],
    ["gallery"], ["gallery", "enroll"], ["gallery", "list"], ["gallery", "remove"], ["gallery", "metric"],
    ["gallery", "export"],
    ["gallery", "import"], ["gallery", "bench-search"], ["identify"], ["verify"], ["calibrate"], ["explain"],
    ["evaluate"], ["merge-results"], ["whiten"], ["ensemble"], ["serve"],
  ]

  /// Commands that `--help` does not list.
  static let hidden: Set<[String]> = [["synthesize-worker"], ["gallery", "bench-search"]]

  static let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

  static var updating: Bool { ProcessInfo.processInfo.environment["MODELPRINT_UPDATE_GOLDEN"] == "1" }

  static func goldenURL(_ command: [String]) -> URL {
    goldenFolder.appendingPathComponent((["modelprint"] + command).joined(separator: "-") + ".txt")
  }

  /// The help text with what depends on the machine replaced: the core count shown as the default of
  /// options that default to every core, and the checkout's and the build's paths.
  static func normalised(_ text: String) -> String {
    var t = text.replacingOccurrences(of: CLI.binary.deletingLastPathComponent().path, with: "<products>")
    t = t.replacingOccurrences(of: CLI.packageRoot.path, with: "<package>")
    let cores = ProcessInfo.processInfo.activeProcessorCount
    t = t.replacingOccurrences(
      of: #"every core\)\.(\s+)\(default: \#(cores)\)"#, with: "every core).$1(default: <cores>)",
      options: .regularExpression)
    return t
  }

  /// Runs of white space count as one blank, so that a different wrap of the same words (the core
  /// count's width moves a line break) is not a difference.
  static func words(_ text: String) -> [Substring] { text.split(whereSeparator: \.isWhitespace) }

  func testHelpMatchesGoldenFiles() throws {
    var written: [String] = []
    for command in Self.commands {
      let result = try CLI.run(command + ["--help"])
      let name = (["modelprint"] + command).joined(separator: " ")
      XCTAssertEqual(result.status, 0, "\(name) --help: \(result.output)")
      XCTAssertEqual(result.stderr, "", "\(name) --help writes help to standard output only")
      let help = Self.normalised(result.stdout)
      let url = Self.goldenURL(command)
      if Self.updating {
        try FileManager.default.createDirectory(at: Self.goldenFolder, withIntermediateDirectories: true)
        try help.write(to: url, atomically: true, encoding: .utf8)
        written.append(url.lastPathComponent)
        continue
      }
      guard let golden = try? String(contentsOf: url, encoding: .utf8) else {
        XCTFail(
          "no golden file \(url.lastPathComponent); run MODELPRINT_UPDATE_GOLDEN=1 swift test --filter ModelPrintCLITests"
        )
        continue
      }
      if Self.words(help) != Self.words(golden) {
        XCTFail(
          "\(name) --help differs from Golden/\(url.lastPathComponent):\n--- now:\n\(help)\n--- golden:\n\(golden)")
      }
    }
    if Self.updating { print("wrote \(written.count) golden files to \(Self.goldenFolder.path)") }
  }

  /// A command added without a golden file, or a golden file left behind by a removed command, fails.
  func testGoldenFilesAreExactlyTheCommands() throws {
    let expected = Set(Self.commands.map { Self.goldenURL($0).lastPathComponent })
    let present = Set(try FileManager.default.contentsOfDirectory(atPath: Self.goldenFolder.path))
    XCTAssertEqual(present.subtracting(expected), [], "golden files of no command")
    if !Self.updating { XCTAssertEqual(expected.subtracting(present), [], "commands without a golden file") }
  }

  /// The subcommands each group's help lists are exactly the visible ones of ``commands``.
  func testCommandListIsComplete() throws {
    let groups = Self.commands.filter { c in
      Self.commands.contains { $0.count == c.count + 1 && Array($0.dropLast()) == c }
    }
    for group in groups {
      let help = try CLI.run(group + ["--help"]).stdout
      let listed = Self.subcommands(inHelp: help)
      let known = Self.commands.filter { $0.count == group.count + 1 && Array($0.dropLast()) == group }
        .filter { !Self.hidden.contains($0) }.map { $0.last! }
      // ArgumentParser adds `help` to the root's list.
      XCTAssertEqual(
        Set(listed).subtracting(["help"]), Set(known), "subcommands of modelprint \(group.joined(separator: " "))")
    }
  }

  /// The first word of each entry of the help's SUBCOMMANDS section.
  static func subcommands(inHelp help: String) -> [String] {
    var names: [String] = []
    var inSection = false
    for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("SUBCOMMANDS:") {
        inSection = true
        continue
      }
      guard inSection else { continue }
      if !line.hasPrefix(" ") { break }
      // Entries are indented two spaces; continuation lines of a wrapped abstract are indented more.
      guard line.hasPrefix("  "), !line.hasPrefix("   "), let first = line.split(separator: " ").first else { continue }
      names.append(String(first))
    }
    return names
  }

  /// `Sources/modelprint/README.md` names every command path, hidden ones marked hidden.
  func testReadmeListsEveryCommand() throws {
    let readme = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("Sources/modelprint/README.md"), encoding: .utf8)
    for command in Self.commands where !command.isEmpty {
      let name = command.joined(separator: " ")
      XCTAssertTrue(readme.contains("`\(name)`"), "Sources/modelprint/README.md does not list `\(name)`")
      if Self.hidden.contains(command) {
        let line = readme.split(separator: "\n").first { $0.contains("`\(name)`") } ?? ""
        XCTAssertTrue(line.contains("hidden"), "README line of `\(name)` does not say it is hidden: \(line)")
      }
    }
  }
}
