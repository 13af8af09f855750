import Foundation
import XCTest

/// `identify --list --shard` and `merge-results`: sharded runs merge to exactly the unsharded run, and a
/// shard stopped at any point (a torn last line, a SIGKILL) resumes without duplicates or gaps.
final class BatchIdentifyTests: XCTestCase {
  /// A tiny extractor, a gallery of two models and a list of `perModel` × 3 images plus a damaged and a
  /// missing file, with a comment and a blank line; paths are relative to the list's folder.
  struct Setup {
    let dir: Scratch
    let gallery: String
    let list: String
    let entries: Int
  }

  static func setup(perModel: Int = 4) throws -> Setup {
    let dir = try Scratch()
    let extractor = dir.path("ex.safetensors")
    try Fixtures.writeExtractor(to: URL(fileURLWithPath: extractor))
    let images = dir.url.appendingPathComponent("images")
    try Fixtures.writeModelFolders(in: images, models: 3, perModel: perModel)
    let gallery = dir.path("g.sqlite")
    for m in 0..<2 {
      let r = try CLI.run(
        ["gallery", "enroll", "--gallery", gallery, "--model", "model\(m)", "--extractor", extractor]
          + (0..<2).map { images.appendingPathComponent(String(format: "model\(m)/img%02d.png", $0)).path })
      XCTAssertEqual(r.status, 0, r.output)
    }
    try dir.write("images/bad.png", Fixtures.randomBytes(300))
    var lines = ["# dev queries", ""]
    for m in 0..<3 { for i in 0..<perModel { lines.append(String(format: "images/model\(m)/img%02d.png", i)) } }
    lines.insert("images/bad.png", at: 5)
    lines.insert("  images/missing.png  ", at: 9)
    try dir.write("list.txt", Array((lines.joined(separator: "\n") + "\n").utf8))
    return Setup(dir: dir, gallery: gallery, list: dir.path("list.txt"), entries: 3 * perModel + 2)
  }

  static func identify(_ s: Setup, shard: String? = nil, out: String) throws -> CLIResult {
    try CLI.run(
      ["identify", "--gallery", s.gallery, "--list", s.list, "--out", out, "--top", "2"]
        + (shard.map { ["--shard", $0] } ?? []))
  }

  static func lines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
  }

  func testFourShardsMergeToTheUnshardedRunByteForByte() throws {
    let s = try Self.setup()
    let whole = s.dir.path("whole.jsonl")
    let r = try Self.identify(s, out: whole)
    XCTAssertEqual(r.status, 0, r.output)
    let records = try Self.lines(whole)
    XCTAssertEqual(records.count, s.entries, r.output)
    for (i, line) in records.enumerated() {
      let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      XCTAssertEqual(object["index"] as? Int, i, line)
      let broken = i == 3 || i == 7
      XCTAssertEqual(object["error"] != nil, broken, line)
      if !broken { XCTAssertEqual((object["candidates"] as? [Any])?.count, 2, line) }
    }
    // The path as the list gives it, trimmed, not as resolved.
    XCTAssertTrue(records[7].contains(#""path":"images\/missing.png""#), records[7])
    var parts: [String] = []
    for i in 0..<4 {
      let part = s.dir.path("part-\(i).jsonl")
      let p = try Self.identify(s, shard: "\(i)/4", out: part)
      XCTAssertEqual(p.status, 0, p.output)
      XCTAssertEqual(try Self.lines(part).count, (s.entries - i + 3) / 4, p.output)
      parts.append(part)
    }
    let merged = s.dir.path("all.jsonl")
    let csv = s.dir.path("all.csv")
    let m = try CLI.run(["merge-results"] + parts + ["--out", merged, "--csv", csv, "--list", s.list])
    XCTAssertEqual(m.status, 0, m.output)
    XCTAssertTrue(m.stdout.contains("merged \(s.entries) results (0 unknown, 2 errors) from 4 parts"), m.output)
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: merged)), try Data(contentsOf: URL(fileURLWithPath: whole)))
    let rows = try Self.lines(csv)
    XCTAssertEqual(rows.count, s.entries + 1)
    XCTAssertTrue(rows[4].hasPrefix("3,images/bad.png,error,,,,"), rows[4])
    XCTAssertTrue(rows[1].hasPrefix("0,images/model0/img00.png,identified,model"), rows[1])
    let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(records[0].utf8)) as? [String: Any])
    let score = try XCTUnwrap(((first["candidates"] as? [[String: Any]])?.first?["score"] as? NSNumber)?.floatValue)
    XCTAssertEqual(Float(rows[1].split(separator: ",")[4]), score, rows[1])
  }

  func testMergeRefusesOverlapsTornPartsAndGaps() throws {
    let s = try Self.setup()
    var parts: [String] = []
    for i in 0..<2 {
      parts.append(s.dir.path("part-\(i).jsonl"))
      XCTAssertEqual(try Self.identify(s, shard: "\(i)/2", out: parts[i]).status, 0)
    }
    let out = s.dir.path("all.jsonl")
    assertFails(
      try CLI.run(["merge-results", parts[0], parts[0], parts[1], "--out", out]), status: 1,
      mentioning: ["entry 0 (images/model0/img00.png)", "overlap"])
    assertFails(
      try CLI.run(["merge-results", parts[1], "--out", out, "--list", s.list]), status: 1,
      mentioning: ["7 of \(s.entries) entries have no result", "0 (images/model0/img00.png)"])
    // Without the list only gaps below the highest index can be seen.
    assertFails(try CLI.run(["merge-results", parts[1], "--out", out]), status: 1, mentioning: ["7 of 14 entries"])
    let torn = try Data(contentsOf: URL(fileURLWithPath: parts[1])).dropLast(5)
    try torn.write(to: URL(fileURLWithPath: parts[1]))
    assertFails(
      try CLI.run(["merge-results", parts[0], parts[1], "--out", out]), status: 1, mentioning: ["incomplete line"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused merge writes nothing")
    try s.dir.write("other.jsonl", Array("{\"index\":0}\n".utf8))
    assertFails(
      try CLI.run(["merge-results", s.dir.path("other.jsonl"), "--out", out]), status: 1,
      mentioning: ["other.jsonl line 1 is not a result"])
  }

  /// A torn last line is what a kill during a write leaves: the restart drops it and completes the shard.
  func testRestartAfterATornLineFinishesWithoutDuplicatesOrGaps() throws {
    let s = try Self.setup()
    let whole = s.dir.path("whole.jsonl")
    XCTAssertEqual(try Self.identify(s, shard: "1/2", out: whole).status, 0)
    let full = try Data(contentsOf: URL(fileURLWithPath: whole))
    let cut = full.firstIndex(of: UInt8(ascii: "\n"))! + 20
    let resumed = s.dir.path("resumed.jsonl")
    try full.prefix(cut).write(to: URL(fileURLWithPath: resumed))
    let r = try Self.identify(s, shard: "1/2", out: resumed)
    XCTAssertEqual(r.status, 0, r.output)
    XCTAssertTrue(r.stderr.contains("dropped an incomplete last line"), r.output)
    XCTAssertTrue(r.stderr.contains("1 of 7 results already there"), r.output)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: resumed)), full)
    // A finished shard run again adds nothing.
    XCTAssertEqual(try Self.identify(s, shard: "1/2", out: resumed).status, 0)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: resumed)), full)
    // A results file of another shard is refused, not extended.
    assertFails(
      try Self.identify(s, shard: "0/2", out: resumed), status: 1, mentioning: ["not one of shard 0/2", "new --out"])
  }

  /// The real thing: SIGKILL once the first lines are on disk, then restart.
  func testShardKilledMidRunAndRestartedMatchesTheUninterruptedRun() throws {
    let s = try Self.setup(perModel: 40)
    let whole = s.dir.path("whole.jsonl")
    XCTAssertEqual(try Self.identify(s, out: whole).status, 0)
    let killed = s.dir.path("killed.jsonl")
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = ["identify", "--gallery", s.gallery, "--list", s.list, "--out", killed, "--top", "2"]
    var environment = ProcessInfo.processInfo.environment
    environment["OMP_NUM_THREADS"] = "1"
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(CLI.timeout)
    while process.isRunning && Date() < deadline {
      if let d = FileManager.default.contents(atPath: killed), d.contains(UInt8(ascii: "\n")) { break }
      usleep(1_000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let before = try Self.lines(killed).count
    let r = try Self.identify(s, out: killed)
    XCTAssertEqual(r.status, 0, r.output)
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: killed)), try Data(contentsOf: URL(fileURLWithPath: whole)))
    if before < s.entries {
      XCTAssertTrue(r.stderr.contains("\(before) of \(s.entries) results already there"), r.output)
    }
  }

  func testBatchFlagsAreValidated() throws {
    let cases: [([String], String)] = [
      (["identify", "--gallery", "g", "--list", "l.txt", "--out", "o", "x.png"], "not both"),
      (["identify", "--gallery", "g", "--list", "l.txt"], "--list needs --out"),
      (["identify", "--gallery", "g", "--list", "l.txt", "--out", "o", "--shard", "4/4"], "--shard '4/4'"),
      (["identify", "--gallery", "g", "--list", "l.txt", "--out", "o", "--shard", "1"], "--shard '1'"),
      (["identify", "--gallery", "g", "--shard", "0/2", "x.png"], "need --list"),
      (["identify", "--gallery", "g"], "or --list"),
      (["merge-results", "a.jsonl", "--out", "a.jsonl"], "one of the parts"),
    ]
    for (arguments, message) in cases {
      assertFails(try CLI.run(arguments), status: 64, mentioning: [message])
    }
    let s = try Self.setup()
    try s.dir.write("empty.txt", Array("# nothing\n\n".utf8))
    assertFails(
      try CLI.run(["identify", "--gallery", s.gallery, "--list", s.dir.path("empty.txt"), "--out", s.dir.path("o")]),
      status: 1, mentioning: ["names no files"])
    try s.dir.write("latin1.txt", [0x69, 0x6D, 0xE9, 0x2E, 0x70, 0x6E, 0x67, 0x0A])
    let bad: [(String, String)] = [
      (s.dir.path("latin1.txt"), "not UTF-8"), (s.dir.path("images"), "cannot read the image list"),
      ("/dev/zero", "cannot read the image list"),
    ]
    for (list, message) in bad {
      assertFails(
        try CLI.run(["identify", "--gallery", s.gallery, "--list", list, "--out", s.dir.path("o")]), status: 1,
        mentioning: [message])
    }
    assertFails(
      try Self.identify(s, out: s.dir.path("images")), status: 1, mentioning: ["cannot read the results file"])
  }
}
