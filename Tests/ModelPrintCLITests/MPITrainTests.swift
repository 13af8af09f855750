import Foundation
import Imaging
import NN
import Tensor
import XCTest

/// `modelprint train` under `mpirun --oversubscribe -np 2` (one thread per rank) against one process
/// with `--bn-groups 2` on the same global batch: the reference training fixture's tiles and
/// configuration (ResNet-18 of width 4, P × K = 4 × 3, 6 steps at 1e-4). Needs Open MPI and a
/// `MODELPRINT_MPI=1` build; skipped, saying which is missing, otherwise.
///
/// Error model. Both runs are the same computation; they differ in how sums are associated (a rank's
/// weight gradient over its 6 tiles plus the other rank's, against one sum over 12; oneDNN may block
/// batches of 6 and 12 differently), each such sum erring by ε = √n·u (u = 2⁻²⁴, n the fixture's
/// `reduction_length`), the error model of `scripts/reference/README.md`:
/// - losses: each run is within λ·ε·sens of the exact losses, sens = `sens.losses` that the fixture
///   measured for this configuration, so the two are within 2·λ·ε·sens + 4u·‖losses‖ (λ = 10);
/// - weights: a step's gradients agree to λ·ε relatively (`DataParallelTests`); AdamW's update is
///   invariant to the gradient's scale, so it moves by at most about that fraction of itself, and each
///   element moves by about lr per step. Over T steps the perturbations add, so per tensor of m values
///   ‖Δw‖ ≤ T·λ·ε·Σₜlrₜ·√m + 2u·‖w‖ (the second term: the file's Float32 storage). Batch norm's running
///   statistics are averages of forward statistics instead, each step's erring by λ·ε relatively:
///   ‖Δr‖ ≤ T·λ·ε·‖r‖ + 2u·‖r‖. The projection's bias
///   is the exception: its exact gradient is 0 (the triplet's pair terms cancel over the rows, the
///   cross-entropy never reaches it), so Adam normalises rounding noise into steps of up to lr either
///   way; it is held to |Δw| ≤ 2·Σₜlrₜ per element.
final class MPITrainTests: XCTestCase {
  static let archs = ["000000", "010110", "100200", "111032", "001231"]

  /// `mpirun` on the PATH, or nil.
  static let mpirun: URL? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
      .first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()

  let dir = try! Scratch()

  override func setUpWithError() throws {
    guard Self.mpirun != nil else {
      throw XCTSkip(
        "mpirun is not installed: apt-get install -y openmpi-bin libopenmpi-dev, then MODELPRINT_MPI=1 swift build --build-tests"
      )
    }
    // Open MPI refuses to start as root unless told twice.
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1)
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1)
    // The fixture's tiles as fingerprinted-tile folders, ARCH_… as `train --fingerprinted` reads them.
    let url = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/reference/extractor_run.safetensors")
    let f = try Safetensors.read(url, requireVersion: false)
    let tiles = try XCTUnwrap(f.tensors["tiles"]).array
    let per = 3 * 64 * 64
    for (c, arch) in Self.archs.enumerated() {
      for t in 0..<6 {
        let base = (c * 6 + t) * per
        let image = Image(width: 64, height: 64, pixels: tiles[base..<(base + per)].map { $0 / 255 })
        try dir.write("fp/\(arch)_0/\(t).png", Array(try ImageEncoder.png(image)))
      }
    }
    try dir.write("config.json", Array(#"{"projection": 8, "validationTilesPerModel": 6, "heldOut": ["001231"]}"#.utf8))
  }

  func train(_ out: String, ranks: Int? = nil, _ extra: [String] = [], environment: [String: String] = [:]) throws
    -> CLIResult
  {
    let arguments =
      [
        "train", "--fingerprinted", dir.path("fp"), "--config", dir.path("config.json"), "--out", dir.path(out),
        "--steps", "6", "--P", "4", "--K", "3", "--width", "4", "--tiles-per-model", "6", "--lr", "1e-4",
        "--threads", "1",
      ] + extra
    for (k, v) in environment { setenv(k, v, 1) }
    defer { for k in environment.keys { unsetenv(k) } }
    guard let ranks else { return try CLI.run(arguments) }
    let result = try CLI.run(
      ["--oversubscribe", "-np", "\(ranks)", CLI.binary.path] + arguments, executable: Self.mpirun!)
    if result.output.contains("built without MPI support") {
      // The refusal itself is checked: a build without MPI must not train a rank's share as a whole job.
      XCTAssertEqual(result.status, 1, result.output)
      XCTAssertTrue(result.output.contains("MODELPRINT_MPI=1"), result.output)
      throw XCTSkip(
        "this modelprint was built without MPI: MODELPRINT_MPI=1 swift build --build-tests to run this test")
    }
    return result
  }

  /// The losses and learning rates of OUT.log.csv.
  func log(_ out: String) throws -> (loss: [Double], lr: [Double]) {
    let text = try String(
      contentsOfFile: dir.path(out.replacingOccurrences(of: ".safetensors", with: ".log.csv")), encoding: .utf8)
    let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").compactMap { Double($0) } }
    return (rows.map { $0[1] }, rows.map { $0[3] })
  }

  func testTwoRanksTrainAsOneProcessWithTwoBatchNormGroups() throws {
    let mpi = try train("mpi/ex.safetensors", ranks: 2)
    XCTAssertEqual(mpi.status, 0, mpi.output)
    let single = try train("single/ex.safetensors", ["--bn-groups", "2"])
    XCTAssertEqual(single.status, 0, single.output)
    XCTAssertEqual(
      try String(contentsOfFile: dir.path("mpi/ex.config.json"), encoding: .utf8),
      try String(contentsOfFile: dir.path("single/ex.config.json"), encoding: .utf8),
      "the job's settings are the single process's, batchNormGroups 2 included")
    XCTAssertFalse(mpi.output.contains("rank 1"), "only rank 0 logs:\n\(mpi.output)")

    let fixture = try Safetensors.read(
      CLI.packageRoot.appendingPathComponent("Tests/Fixtures/reference/extractor_run.safetensors"),
      requireVersion: false)
    let sens = Double(try XCTUnwrap(fixture.tensors["sens.losses"]).item)
    let n = try XCTUnwrap(fixture.metadata["reduction_length"].flatMap(Double.init))
    let u = 0x1p-24
    let eps = n.squareRoot() * u
    let (a, lr) = try log("single/ex.safetensors")
    let (b, _) = try log("mpi/ex.safetensors")
    XCTAssertEqual(a.count, 6)
    XCTAssertEqual(b.count, 6)
    let lossError = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    let lossNorm = a.reduce(0) { $0 + $1 * $1 }.squareRoot()
    let lossBound = 2 * 10 * eps * sens + 4 * u * lossNorm
    XCTAssertLessThanOrEqual(lossError, lossBound, "losses \(a) against \(b)")

    let worst = try assertSameWeights("single/ex.safetensors", "mpi/ex.safetensors", steps: 6, lr: lr, eps: eps)
    if ProcessInfo.processInfo.environment["MODELPRINT_PRINT_ERRORS"] != nil {
      print("losses: error \(lossError) of \(lossBound); weights: worst error / bound \(worst)")
    }
  }

  /// On a pool the ranks share the fingerprinting (model i on rank i mod 2) and exchange the tiles: the
  /// first step's loss (same weights, same tiles) agrees with one process's to λ·ε relatively, and the
  /// weights as in the test above, ε = √n·u with n = N·H·W = 12·16·16.
  func testOnAPoolTheRanksShareTheFingerprinting() throws {
    let synth = try Fixtures.synthesizeTinyPool(in: dir, archs: Self.archs)
    XCTAssertEqual(synth.status, 0, synth.output)
    let common = [
      "train", "--pool", dir.path("pool"), "--config", dir.path("config.json"), "--steps", "6", "--P", "4", "--K", "3",
      "--width", "4", "--tiles-per-model", "6", "--lr", "1e-4", "--threads", "1",
    ]
    let mpi = try CLI.run(
      ["--oversubscribe", "-np", "2", CLI.binary.path] + common + ["--out", dir.path("pool-mpi/ex.safetensors")],
      executable: Self.mpirun!)
    if mpi.output.contains("built without MPI support") {
      throw XCTSkip(
        "this modelprint was built without MPI: MODELPRINT_MPI=1 swift build --build-tests to run this test")
    }
    XCTAssertEqual(mpi.status, 0, mpi.output)
    XCTAssertTrue(mpi.output.contains("3/3"), "rank 0 fingerprints models 0, 2 and 4:\n\(mpi.output)")
    let single = try CLI.run(common + ["--out", dir.path("pool-one/ex.safetensors"), "--bn-groups", "2"])
    XCTAssertEqual(single.status, 0, single.output)
    let u = 0x1p-24
    let eps = Double(12 * 16 * 16).squareRoot() * u
    let (a, lr) = try log("pool-one/ex.safetensors")
    let (b, _) = try log("pool-mpi/ex.safetensors")
    XCTAssertEqual(b.count, 6)
    XCTAssertEqual(a[0], b[0], accuracy: 10 * eps * a[0], "the first step: the same tiles and weights")
    try assertSameWeights("pool-one/ex.safetensors", "pool-mpi/ex.safetensors", steps: 6, lr: lr, eps: eps)
  }

  /// The weight part of the error model above: T·λ·ε·Σₜlrₜ·√m + 2u·‖w‖ per tensor, running statistics
  /// T·λ·ε·‖r‖ + 2u·‖r‖, the projection's bias 2·Σₜlrₜ per element. Returns the worst error / bound.
  @discardableResult
  func assertSameWeights(
    _ one: String, _ other: String, steps: Int, lr: [Double], eps: Double, file: StaticString = #filePath,
    line: UInt = #line
  ) throws -> Double {
    let u = 0x1p-24
    let w1 = try Safetensors.read(URL(fileURLWithPath: dir.path(one))).tensors
    let w2 = try Safetensors.read(URL(fileURLWithPath: dir.path(other))).tensors
    XCTAssertEqual(Set(w1.keys), Set(w2.keys), file: file, line: line)
    let moved = lr.reduce(0, +)
    let t = Double(steps)
    var worst = 0.0
    for (name, tensor) in w1 {
      let x = tensor.array
      let y = try XCTUnwrap(w2[name]).array
      if name.hasSuffix("proj.bias") {
        for (p, q) in zip(x, y) {
          XCTAssertLessThanOrEqual(abs(Double(p) - Double(q)), 2 * moved, name, file: file, line: line)
        }
        continue
      }
      let err = zip(x, y).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }.squareRoot()
      let norm = x.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
      // Running statistics are averages of forward statistics, not lr steps: each step's errs by λ·ε
      // relatively, and T steps add up.
      let isBuffer = name.hasSuffix("running_mean") || name.hasSuffix("running_var")
      let bound = (isBuffer ? t * 10 * eps * norm : t * 10 * eps * moved * Double(x.count).squareRoot()) + 2 * u * norm
      worst = max(worst, err / bound)
      XCTAssertLessThanOrEqual(err, bound, "\(name): ‖Δw‖ \(err), ‖w‖ \(norm)", file: file, line: line)
    }
    return worst
  }

  /// One rank SIGKILLed, or failing with an error, ends the whole job with a message naming it (the
  /// runner's 120 s limit would catch a hang); `--resume` then continues the job from rank 0's last
  /// checkpoint (after epoch 1, step 2) to the uninterrupted job's exact losses and weights.
  func testAFailedRankEndsTheJobAndResumeContinuesIt() throws {
    let whole = try train("whole/ex.safetensors", ranks: 2)
    XCTAssertEqual(whole.status, 0, whole.output)
    let killed = try train("cut/ex.safetensors", ranks: 2, environment: ["MODELPRINT_TRAIN_FAULT": "1:3:kill"])
    XCTAssertNotEqual(killed.status, 0)
    XCTAssertTrue(killed.output.contains("rank 1") && killed.output.contains("signal 9"), killed.output)
    let failed = try train("failed/ex.safetensors", ranks: 2, environment: ["MODELPRINT_TRAIN_FAULT": "1:1:error"])
    XCTAssertNotEqual(failed.status, 0)
    XCTAssertTrue(failed.output.contains("rank 1 of 2 failed: injected fault at step 1"), failed.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("cut/ex.safetensors")))
    let resumed = try train("cut/ex.safetensors", ranks: 2, ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.output)
    XCTAssertTrue(resumed.output.contains("resumed"), resumed.output)
    XCTAssertEqual(try log("cut/ex.safetensors").loss, try log("whole/ex.safetensors").loss)
    let a = try Safetensors.read(URL(fileURLWithPath: dir.path("cut/ex.safetensors"))).tensors
    let b = try Safetensors.read(URL(fileURLWithPath: dir.path("whole/ex.safetensors"))).tensors
    for (name, t) in a { XCTAssertEqual(t.array, b[name]?.array, name) }
  }

  /// A rank count that does not divide the batch is refused before any training, with a message.
  func testRanksThatCannotShareTheBatchAreRefused() throws {
    let result = try train("odd/ex.safetensors", ranks: 5)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.output.contains("5 ranks") || result.output.contains("5 processes"), result.output)
  }
}
