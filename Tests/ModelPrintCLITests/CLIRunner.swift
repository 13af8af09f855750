import Foundation
import XCTest

/// What one run of the `modelprint` binary did.
struct CLIResult {
  /// The exit status, or 128 + the signal number when a signal ended the process (as a shell reports
  /// it), so that `status < 128` means the program exited by itself.
  let status: Int32
  /// True when a signal (a trap: SIGILL, SIGTRAP, SIGSEGV; or the runner's timeout) ended the process.
  let signalled: Bool
  let stdout: String
  let stderr: String
  /// Both streams, for messages that may go to either.
  var output: String { stdout + stderr }
}

/// Runs the `modelprint` executable that SwiftPM built next to the test bundle.
enum CLI {
  /// Wall-clock limit of one run; a run that takes longer is killed and reported as signalled, so a
  /// hang fails its test instead of the whole suite.
  static let timeout: TimeInterval = 120

  /// The binary: `MODELPRINT_BINARY` when set, else `modelprint` in the products folder. On Linux the
  /// test bundle is an executable in that folder, so `Bundle.main.bundleURL` is the folder itself.
  static let binary: URL = {
    if let path = ProcessInfo.processInfo.environment["MODELPRINT_BINARY"] { return URL(fileURLWithPath: path) }
    var candidates = [Bundle.main.bundleURL.appendingPathComponent("modelprint")]
    if let exe = Bundle.main.executableURL {
      candidates.append(exe.deletingLastPathComponent().appendingPathComponent("modelprint"))
    }
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("modelprint"))
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
  }()

  /// `modelprint-bench`, built beside `modelprint` (every product is built with the tests).
  static var bench: URL { binary.deletingLastPathComponent().appendingPathComponent("modelprint-bench") }

  /// The package root (three levels above this file), for golden files and path normalisation.
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// Runs `modelprint arguments…` (or another of the package's executables) in `directory` (default: a fresh empty folder, so that nothing is found
  /// relative to the repository by accident) with a fixed help width and one thread.
  static func run(
    _ arguments: [String], in directory: URL? = nil, executable: URL = binary, file: StaticString = #filePath,
    line: UInt = #line
  ) throws -> CLIResult {
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
      XCTFail("no executable at \(executable.path); build with `swift build --build-tests`", file: file, line: line)
      throw CocoaError(.fileNoSuchFile)
    }
    let scratch = try Scratch()
    let out = scratch.url.appendingPathComponent("stdout")
    let err = scratch.url.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = directory ?? scratch.url
    var environment = ProcessInfo.processInfo.environment
    // Help text wraps at the terminal width; a fixed width keeps the golden files stable.
    environment["COLUMNS"] = "100"
    environment["OMP_NUM_THREADS"] = "1"
    // A trap still prints its message; the backtrace would bury it in the failure report.
    environment["SWIFT_BACKTRACE"] = "enable=no"
    process.environment = environment
    // Files rather than pipes: a pipe that fills while nobody reads it would block the child.
    let outHandle = try FileHandle(forWritingTo: out)
    let errHandle = try FileHandle(forWritingTo: err)
    defer {
      try? outHandle.close()
      try? errHandle.close()
    }
    process.standardOutput = outHandle
    process.standardError = errHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
      XCTFail("modelprint \(arguments.joined(separator: " ")) ran past \(Int(timeout)) s", file: file, line: line)
    }
    process.waitUntilExit()
    let signalled = process.terminationReason == .uncaughtSignal
    return CLIResult(
      status: signalled ? 128 + process.terminationStatus : process.terminationStatus, signalled: signalled,
      stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
      stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
  }
}

/// A temporary folder, removed when the value is released.
final class Scratch {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("modelprint-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  /// `name` inside the folder, as a path string for the command line.
  func path(_ name: String) -> String { url.appendingPathComponent(name).path }

  /// Writes `bytes` to `name` (creating folders on the way) and returns its path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let file = url.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: file)
    return file.path
  }
}

/// Assertions shared by the failure tests.
extension XCTestCase {
  /// A batch run with some bad files: it exited by itself with 0 or 1 (whether skipped files make the
  /// whole run fail is each command's choice) and named every one of `mentions`.
  func assertSurvives(
    _ result: CLIResult, mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertFalse(
      result.signalled, "killed by a signal (status \(result.status)):\n\(result.output)", file: file, line: line)
    XCTAssertTrue([0, 1].contains(result.status), "exit status; output:\n\(result.output)", file: file, line: line)
    for m in mentions {
      XCTAssertTrue(
        result.output.contains(m), "output does not mention \(m):\n\(result.output)", file: file, line: line)
    }
  }

  /// The run exited by itself with `status` and printed something containing every one of `mentions`.
  /// Only a usage error (64) may print usage text: a failure about files' contents is not one.
  func assertFails(
    _ result: CLIResult, status: Int32, mentioning mentions: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertFalse(
      result.signalled, "killed by a signal (status \(result.status)):\n\(result.output)", file: file, line: line)
    XCTAssertEqual(result.status, status, "exit status; output:\n\(result.output)", file: file, line: line)
    for m in mentions {
      XCTAssertTrue(
        result.output.contains(m), "output does not mention \(m):\n\(result.output)", file: file, line: line)
    }
    if status != 64 {
      XCTAssertFalse(result.output.contains("Usage:"), "usage text after:\n\(result.output)", file: file, line: line)
    }
  }
}
