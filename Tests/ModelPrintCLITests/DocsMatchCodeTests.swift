import Foundation
import XCTest

/// Documentation that states what the code does, checked against the code so that the two cannot drift.
final class DocsMatchCodeTests: XCTestCase {
  /// Every option `modelprint-bench` parses is in its `--help`, and every option and workload of the help
  /// is in `Sources/Benchmarks/README.md`.
  func testBenchmarkOptionsAreDocumented() throws {
    let help = try CLI.run(["--help"], executable: CLI.bench)
    XCTAssertEqual(help.status, 0, help.output)
    let source = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("Sources/Benchmarks/main.swift"), encoding: .utf8)
    let readme = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("Sources/Benchmarks/README.md"), encoding: .utf8)
    let parsed = Self.matches(#"case "(--[a-z-]+)""#, in: source)
    XCTAssertFalse(parsed.isEmpty, "no options found in main.swift's parser")
    for option in parsed {
      XCTAssertTrue(help.stdout.contains(option), "modelprint-bench --help does not mention \(option)")
      XCTAssertTrue(readme.contains("`\(option)"), "Sources/Benchmarks/README.md does not document \(option)")
    }
    let workloads = help.stdout.split(separator: "\n").first { $0.hasPrefix("workloads:") }
    let names = try XCTUnwrap(workloads, "no workloads line in --help").split(separator: " ").dropFirst()
    XCTAssertFalse(names.isEmpty)
    for name in names {
      XCTAssertTrue(readme.contains("`\(name)`"), "Sources/Benchmarks/README.md does not list workload \(name)")
    }
  }

  /// The time `synthesize --help` gives for the default pool is the one `docs/synthesis.md` measured.
  func testSynthesizeHelpTimeIsTheMeasuredOne() throws {
    let docs = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("docs/synthesis.md"), encoding: .utf8)
    let row = try XCTUnwrap(
      docs.split(separator: "\n").first { $0.hasPrefix("| ModelPrint (`modelprint synthesize") },
      "docs/synthesis.md has no ModelPrint row for the default pool")
    let minutes = try XCTUnwrap(Self.matches(#"\(([0-9.]+) min\)"#, in: String(row)).first, "no minutes in \(row)")
    let help = try CLI.run(["synthesize", "--help"])
    let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    XCTAssertTrue(
      words.contains("took \(minutes) minutes"), "synthesize --help does not say \(minutes) minutes:\n\(words)")
  }

  /// First capture group of every match of `pattern`.
  static func matches(_ pattern: String, in text: String) -> [String] {
    let regex = try! NSRegularExpression(pattern: pattern)
    let ns = text as NSString
    return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map {
      ns.substring(with: $0.range(at: 1))
    }
  }
}
