import Foundation
import XCTest

/// Wrong command lines: each must stop with ArgumentParser's usage exit status (64, EX_USAGE) and a
/// message naming the flag or argument, before any file is read or any work starts. The paths given
/// to satisfy required arguments do not exist, so a command that started work would fail differently.
final class BadArgumentTests: XCTestCase {
  /// One command's cases.
  struct Case {
    /// The command path, e.g. `["gallery", "enroll"]`.
    var command: [String]
    /// Arguments that satisfy the parser (required options and arguments).
    var required: [String] = []
    /// What the missing-argument message names when `required` is left out (nil: nothing is required).
    var missing: String?
    /// A flag and a value of the wrong type for it.
    var wrongType: (flag: String, value: String)?
    /// Values of the right type that the command must refuse, each with the flag the message names.
    var outOfRange: [(arguments: [String], flag: String)] = []
  }

  static let usage: Int32 = 64

  static let cases: [Case] = [
    Case(
      command: ["demo"], wrongType: ("--enroll", "four"),
      outOfRange: [(["--enroll", "0"], "--enroll"), (["--threads", "0"], "--threads")]),
    Case(
      command: ["architectures"], wrongType: ("--sample", "few"),
      outOfRange: [
        (["--ablation", "Q"], "--ablation"), (["--archs", "12"], "12"), (["--space", "huge"], "--space"),
        (["--sample", "0"], "--sample"), (["--archs", "11001100"], "110011"), (["--archs", "41000000"], "41000000"),
      ]),
    Case(
      command: ["synthesize"], required: ["--out", "nowhere/pool"], missing: "--out", wrongType: ("--seeds", "many"),
      outOfRange: [
        (["--seeds", "0"], "--seeds"), (["--steps", "0"], "--steps"), (["--size", "30"], "--size"),
        (["--workers", "0"], "--workers"), (["--shard", "3/2"], "--shard"),
        (["--space", "extended", "--size", "40"], "--size"),
        (["--high-frequency-weight", "-1"], "--high-frequency-weight"),
      ]),
    Case(command: ["synthesize-worker"], required: ["--pool", "nowhere/pool"], missing: "--pool"),
    Case(command: ["pool", "merge"], required: ["--out", "nowhere/merged", "nowhere/shard"], missing: "--out"),
    Case(command: ["pool", "verify"], required: ["nowhere/pool"], missing: "<pool>"),
    Case(
      command: ["generate"], required: ["--pool", "nowhere/pool", "--out", "nowhere/out"], missing: "--pool",
      wrongType: ("--per-model", "all"),
      outOfRange: [(["--per-model", "0"], "--per-model"), (["--size", "30"], "--size")]),
    Case(
      command: ["ffd"], required: ["--real", "nowhere/real", "--synthetic", "nowhere/pool"], missing: "--real",
      wrongType: ("--size", "big"), outOfRange: [(["--size", "30"], "--size"), (["--per-model", "0"], "--per-model")]),
    Case(
      command: ["train"], required: ["--out", "nowhere/ex.safetensors"], missing: "--out",
      wrongType: ("--steps", "ten"),
      outOfRange: [
        (["--steps", "0"], "--steps"), (["--depth", "19"], "--depth"), (["--width", "0"], "--width"),
        (["--tiles-per-model", "0"], "--tiles-per-model"), (["--jpeg-prob", "2"], "--jpeg-prob"),
        (["--jpeg-quality", "90-10"], "--jpeg-quality"), (["--standardise", "octave"], "--standardise"),
        (["--resize-prob", "2"], "--resize-prob"), (["--resize-scale", "0.1-2"], "--resize-scale"),
        (["--blur-sigma-max", "9"], "--blur-sigma-max"), (["--bn-groups", "3"], "--bn-groups"),
        (["--bn-groups", "0"], "--bn-groups"), (["--virtual", "31"], "--virtual"), (["--virtual", "33"], "--virtual"),
        (["--tile-size", "128"], "--tile-size"), (["--images", "nowhere/photos", "--tile-size", "100"], "--tile-size"),
        (["--images", "nowhere/photos", "--tile-size", "1024"], "--tile-size"),
      ]),
    Case(
      command: ["embed"], required: ["nowhere/x.png"], missing: "<images>", wrongType: ("--windows", "three"),
      outOfRange: [(["--windows", "0"], "--windows"), (["--threads", "0"], "--threads")]),
    Case(
      command: ["spectrum"], required: ["nowhere/models", "--out", "nowhere/out"], missing: "--out",
      wrongType: ("--size", "wide"), outOfRange: [(["--size", "4"], "--size"), (["--per-model", "0"], "--per-model")]),
    Case(
      command: ["train-denoiser"], required: ["--out", "nowhere/dn.safetensors"], missing: "--out",
      wrongType: ("--depth", "deep"),
      outOfRange: [
        (["--depth", "2"], "--depth"), (["--steps", "0"], "--steps"), (["--batch", "0"], "--batch"),
        (["--tile", "0"], "--tile"),
      ]),
    Case(
      command: ["gallery", "enroll"], required: ["--gallery", "nowhere/g.sqlite", "--model", "m", "nowhere/x.png"],
      missing: "--gallery", wrongType: ("--threads", "two")),
    Case(command: ["gallery", "list"], required: ["--gallery", "nowhere/g.sqlite"], missing: "--gallery"),
    Case(
      command: ["gallery", "metric"], required: ["--gallery", "nowhere/g.sqlite"], missing: "--gallery",
      outOfRange: [(["isotropic"], "isotropic")]),
    Case(
      command: ["gallery", "remove"], required: ["--gallery", "nowhere/g.sqlite", "--model", "m"], missing: "--model"),
    Case(
      command: ["gallery", "export"], required: ["--gallery", "nowhere/g.sqlite", "--out", "nowhere/p.json"],
      missing: "--gallery"),
    Case(
      command: ["gallery", "import"], required: ["--gallery", "nowhere/g.sqlite", "nowhere/p.json"],
      missing: "--gallery"),
    Case(
      command: ["explain"], required: ["nowhere/x.png", "--gallery", "nowhere/g.sqlite", "--out", "nowhere/out"],
      missing: "--gallery", wrongType: ("--bands", "many"), outOfRange: [(["--bands", "0"], "--bands")]),
    // Every case of serve is refused before a socket opens; none starts a server.
    Case(
      command: ["serve"], required: ["--gallery", "nowhere/g.sqlite"], wrongType: ("--port", "http"),
      outOfRange: [
        (["--port", "70000"], "--port"), (["--workers", "0"], "--workers"), (["--queue", "0"], "--queue"),
        (["--batch", "0"], "--batch"), (["--batch-wait", "2000"], "--batch-wait"),
        (["--max-body", "10"], "--max-body"),
      ]),
    Case(
      command: ["gallery", "bench-search"], wrongType: ("--count", "lots"),
      outOfRange: [(["--count", "0"], "--count"), (["--dim", "0"], "--dim")]),
    Case(
      command: ["identify"], required: ["--gallery", "nowhere/g.sqlite", "nowhere/x.png"], missing: "--gallery",
      wrongType: ("--top", "five"), outOfRange: [(["--top", "0"], "--top"), (["--shard", "0/2"], "--shard")]),
    Case(
      command: ["merge-results"], required: ["nowhere/a.jsonl", "--out", "nowhere/all.jsonl"], missing: "--out",
      outOfRange: [(["--csv", "nowhere/all.jsonl"], "--csv")]),
    Case(
      command: ["whiten"], required: ["nowhere/set", "--out", "nowhere/x.safetensors"], missing: "--out",
      wrongType: ("--shrinkage", "lots"),
      outOfRange: [
        (["--shrinkage", "0"], "--shrinkage"), (["--per-model", "1"], "--per-model"),
        (["--windows", "0"], "--windows"),
      ]),
    Case(
      command: ["ensemble"],
      required: ["nowhere/a.safetensors", "nowhere/b.safetensors", "--out", "nowhere/e.safetensors"],
      missing: "<members>", wrongType: ("--threads", "many"),
      outOfRange: [((3...9).map { "nowhere/\($0).safetensors" }, "got 9")]),
    Case(
      command: ["verify"], required: ["nowhere/a.png", "nowhere/b.png"], missing: "<a>",
      wrongType: ("--threshold", "high")),
    Case(
      command: ["calibrate"], required: ["--gallery", "nowhere/g.sqlite"], missing: "--gallery",
      wrongType: ("--pairs", "many"), outOfRange: [(["--pairs", "0"], "--pairs")]),
    Case(
      command: ["evaluate"], required: ["nowhere/models"], missing: "<root>", wrongType: ("--nshot", "ten"),
      outOfRange: [
        (["--nshot", "0"], "--nshot"), (["--pairs", "0"], "--pairs"), (["--windows", "0"], "--windows"),
        (["--method", "magic"], "--method"), (["--perturb", "blur:3"], "--perturb"), (["--metric", "lda"], "--metric"),
      ]),
  ]

  func testEveryCommandHasCases() {
    XCTAssertEqual(
      Set(Self.cases.map(\.command)),
      Set(HelpGoldenTests.commands.filter { !$0.isEmpty && !["pool", "gallery"].contains($0) }))
  }

  func testUnknownFlag() throws {
    for c in Self.cases {
      let r = try CLI.run(c.command + c.required + ["--no-such-flag"])
      assertFails(r, status: Self.usage, mentioning: ["--no-such-flag"])
    }
    assertFails(try CLI.run(["--no-such-flag"]), status: Self.usage, mentioning: ["--no-such-flag"])
    assertFails(try CLI.run(["no-such-command"]), status: Self.usage, mentioning: ["no-such-command"])
  }

  func testMissingRequiredArgument() throws {
    for c in Self.cases {
      guard let missing = c.missing else { continue }
      assertFails(try CLI.run(c.command), status: Self.usage, mentioning: ["Missing", missing])
    }
  }

  func testValueOfTheWrongType() throws {
    for c in Self.cases {
      guard let (flag, value) = c.wrongType else { continue }
      let r = try CLI.run(c.command + c.required + [flag, value])
      assertFails(r, status: Self.usage, mentioning: [flag, value])
    }
  }

  /// Refused in validation, before the files named by `required` (which do not exist) are looked at,
  /// with the command's own usage: ArgumentParser prints the root's ("modelprint <subcommand>") for a
  /// ValidationError thrown later, from run().
  func testValueOutOfRange() throws {
    for c in Self.cases {
      for (arguments, flag) in c.outOfRange {
        let r = try CLI.run(c.command + c.required + arguments)
        assertFails(r, status: Self.usage, mentioning: [flag, "Usage: modelprint \(c.command.joined(separator: " "))"])
      }
    }
  }
}
