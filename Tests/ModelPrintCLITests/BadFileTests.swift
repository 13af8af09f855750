import Foundation
import XCTest

/// Missing and damaged files for every command that reads files. A command that cannot go on exits with
/// status 1 and names the file; a batch with some bad files names each of them, still gives the good
/// ones their results and exits 0 or 1 (`embed` and `identify` promise 1). Never a signal.
final class BadFileTests: XCTestCase {
  var dir: Scratch!
  /// A valid tiny extractor checkpoint.
  var extractor = ""
  /// Two valid images.
  var good = ""
  var good2 = ""
  /// Random bytes named like an image.
  var noise = ""

  override func setUpWithError() throws {
    dir = try Scratch()
    extractor = dir.path("ex.safetensors")
    try Fixtures.writeExtractor(to: URL(fileURLWithPath: extractor))
    good = try dir.write("images/good.png", try Fixtures.png(tint: 0, seed: 1))
    good2 = try dir.write("images/good2.png", try Fixtures.png(tint: 1, seed: 2))
    noise = try dir.write("bad/noise.png", Fixtures.randomBytes(4096))
  }

  override func tearDown() { dir = nil }

  /// Random bytes of several seeds and lengths, and the first part of a real checkpoint, as `--extractor`.
  func damagedExtractors() throws -> [String] {
    var paths = try (1...6).map { seed in
      try dir.write("bad/random-\(seed).safetensors", Fixtures.randomBytes(64 << seed, seed: UInt64(seed)))
    }
    let real = try Data(contentsOf: URL(fileURLWithPath: extractor))
    paths.append(try dir.write("bad/truncated.safetensors", Array(real.prefix(real.count / 2))))
    paths.append(try dir.write("bad/empty.safetensors", []))
    return paths
  }

  // MARK: images and extractors

  func testEmbedReportsBadImagesAndKeepsTheGoodOnes() throws {
    let r = try CLI.run(["embed", "--extractor", extractor, good, noise, good2])
    assertFails(r, status: 1, mentioning: [noise])
    XCTAssertTrue(r.stdout.contains(good) && r.stdout.contains(good2), "good images still embedded:\n\(r.output)")
    assertFails(
      try CLI.run(["embed", "--extractor", extractor, dir.path("nowhere.png")]), status: 1, mentioning: ["nowhere.png"])
    try FileManager.default.createDirectory(atPath: dir.path("empty"), withIntermediateDirectories: true)
    assertFails(
      try CLI.run(["embed", "--extractor", extractor, dir.path("empty")]), status: 1, mentioning: [dir.path("empty")])
  }

  func testEmbedRefusesMissingAndDamagedExtractors() throws {
    for path in try damagedExtractors() + [dir.path("nowhere.safetensors")] {
      assertFails(try CLI.run(["embed", "--extractor", path, good]), status: 1, mentioning: [path])
    }
  }

  func testVerifyReportsMissingAndDamagedImages() throws {
    let ok = try CLI.run(["verify", "--extractor", extractor, "--threshold", "0.5", good, good2])
    XCTAssertEqual(ok.status, 0, ok.output)
    let missing = dir.path("nowhere.png")
    assertFails(
      try CLI.run(["verify", "--extractor", extractor, "--threshold", "0.5", good, missing]), status: 1,
      mentioning: [missing])
    assertFails(
      try CLI.run(["verify", "--extractor", extractor, "--threshold", "0.5", noise, good]), status: 1,
      mentioning: [noise])
    let bad = try damagedExtractors()[0]
    assertFails(
      try CLI.run(["verify", "--extractor", bad, "--threshold", "0.5", good, good2]), status: 1, mentioning: [bad])
  }

  /// A 1-pixel-wide image cannot be centre-cropped into a spectrum; it is reported, the rest is summarised.
  func testSpectrumReportsTooNarrowAndDamagedImages() throws {
    let models = dir.url.appendingPathComponent("models")
    try Fixtures.writeModelFolders(in: models, models: 2, perModel: 2)
    let narrow = models.appendingPathComponent("model0/narrow.png").path
    try Data(try Fixtures.png(side: 1, tint: 0, seed: 9)).write(to: URL(fileURLWithPath: narrow))
    let broken = models.appendingPathComponent("model1/broken.png").path
    try Data(Fixtures.randomBytes(512, seed: 5)).write(to: URL(fileURLWithPath: broken))
    let out = dir.url.appendingPathComponent("spectra")
    let r = try CLI.run(["spectrum", models.path, "--out", out.path, "--size", "16"])
    assertSurvives(r, mentioning: [narrow, broken])
    for name in ["model0.png", "model1.png", "spectra.csv", "spectra.svg"] {
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path),
        "the good images' spectra are still written: \(name)\n\(r.output)")
    }
  }

  /// Evaluation over folders that hold a damaged and a 1-pixel-wide image among good ones.
  func testEvaluateReportsBadImagesAndScoresTheGoodOnes() throws {
    let models = dir.url.appendingPathComponent("models")
    try Fixtures.writeModelFolders(in: models, models: 3, perModel: 3)
    let broken = models.appendingPathComponent("model1/broken.png").path
    try Data(Fixtures.randomBytes(500, seed: 8)).write(to: URL(fileURLWithPath: broken))
    let narrow = models.appendingPathComponent("model2/narrow.png").path
    try Data(try Fixtures.png(side: 1, tint: 2, seed: 9)).write(to: URL(fileURLWithPath: narrow))
    let json = dir.path("eval.json")
    let r = try CLI.run([
      "evaluate", models.path, "--extractor", extractor, "--nshot", "1", "--pairs", "20", "--json", json,
    ])
    assertSurvives(r, mentioning: [broken])
    XCTAssertTrue(FileManager.default.fileExists(atPath: json), "the good images are still scored:\n\(r.output)")
    // Every model keeps two or more good images, so each has queries and a per-model accuracy.
    let report = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
    let perModel = try XCTUnwrap(report["per_model_accuracy"] as? [String: Double], "\(report.keys)")
    XCTAssertEqual(Set(perModel.keys), Set(try XCTUnwrap(report["models"] as? [String])))
    XCTAssertTrue(perModel.values.allSatisfy { (0...1).contains($0) }, "\(perModel)")
  }

  // MARK: galleries

  /// A gallery enrolled through the command line from the tiny extractor and two model folders.
  func enrolledGallery() throws -> String {
    let gallery = dir.path("g.sqlite")
    for (model, image) in [("a", good), ("b", good2)] {
      let r = try CLI.run([
        "gallery", "enroll", "--gallery", gallery, "--model", model, "--extractor", extractor, image,
      ])
      XCTAssertEqual(r.status, 0, r.output)
    }
    return gallery
  }

  func testGalleryCommandsRefuseDamagedAndMissingGalleries() throws {
    let damaged = try dir.write("bad/gallery.sqlite", Fixtures.randomBytes(8192, seed: 3))
    let truncated = dir.path("bad/truncated.sqlite")
    let real = try Data(contentsOf: URL(fileURLWithPath: try enrolledGallery()))
    try real.prefix(100).write(to: URL(fileURLWithPath: truncated))
    for gallery in [damaged, truncated] {
      let runs: [[String]] = [
        ["gallery", "enroll", "--gallery", gallery, "--model", "m", "--extractor", extractor, good],
        ["gallery", "list", "--gallery", gallery],
        ["gallery", "remove", "--gallery", gallery, "--model", "m"],
        ["identify", "--gallery", gallery, "--extractor", extractor, good],
        ["verify", "--gallery", gallery, "--extractor", extractor, good, good2],
        ["calibrate", "--gallery", gallery],
      ]
      for arguments in runs { assertFails(try CLI.run(arguments), status: 1, mentioning: [gallery]) }
    }
    let missing = dir.path("nowhere.sqlite")
    for arguments in [
      ["gallery", "list", "--gallery", missing], ["identify", "--gallery", missing, "--extractor", extractor, good],
      ["calibrate", "--gallery", missing],
    ] {
      assertFails(try CLI.run(arguments), status: 1, mentioning: [missing])
      XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "\(arguments[0]) created \(missing)")
    }
  }

  func testGalleryEnrollAndIdentifyReportBadImagesAndKeepTheGoodOnes() throws {
    let gallery = try enrolledGallery()
    let identify = try CLI.run(["identify", "--gallery", gallery, "--extractor", extractor, good, noise])
    assertFails(identify, status: 1, mentioning: [noise])
    XCTAssertTrue(identify.stdout.contains(good), "the good image is still identified:\n\(identify.output)")
    let enroll = try CLI.run(
      ["gallery", "enroll", "--gallery", gallery, "--model", "c", "--extractor", extractor, noise, good2])
    assertSurvives(enroll, mentioning: [noise])
    let list = try CLI.run(["gallery", "list", "--gallery", gallery])
    XCTAssertEqual(list.status, 0, list.output)
    XCTAssertTrue(list.stdout.contains("c"), "the good image still enrolled model c:\n\(list.output)")
  }

  // MARK: folders of models, pools, settings

  func testDemoAndEvaluateRefuseMissingFoldersAndDamagedExtractors() throws {
    let models = dir.url.appendingPathComponent("models")
    try Fixtures.writeModelFolders(in: models, models: 3, perModel: 3)
    let missing = dir.path("nowhere")
    let bad = try damagedExtractors()[1]
    assertFails(try CLI.run(["demo", "--extractor", extractor, "--images", missing]), status: 1, mentioning: [missing])
    assertFails(
      try CLI.run(["demo", "--extractor", bad, "--images", models.path, "--enroll", "1"]), status: 1, mentioning: [bad])
    assertFails(try CLI.run(["evaluate", missing, "--extractor", extractor]), status: 1, mentioning: [missing])
    assertFails(
      try CLI.run(["evaluate", models.path, "--extractor", bad, "--nshot", "1", "--pairs", "10"]), status: 1,
      mentioning: [bad])
  }

  /// Folders that hold too little, found only once the command runs: a problem of the files (exit 1,
  /// no usage text), not of a flag.
  func testFoldersWithTooFewImagesOrModels() throws {
    let two = dir.url.appendingPathComponent("two")
    try Fixtures.writeModelFolders(in: two, models: 2, perModel: 3)
    assertFails(
      try CLI.run(["demo", "--extractor", extractor, "--images", two.path]), status: 1,
      mentioning: [two.path, "at least 3 model folders"])
    let empty = dir.url.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    assertFails(
      try CLI.run(["spectrum", empty.path, "--out", dir.path("spectrum")]), status: 1, mentioning: [empty.path])
    let missing = dir.path("nowhere")
    assertFails(try CLI.run(["spectrum", missing, "--out", dir.path("spectrum")]), status: 1, mentioning: [missing])
    assertFails(
      try CLI.run(["evaluate", two.path, "--extractor", extractor, "--nshot", "3", "--pairs", "10"]), status: 1,
      mentioning: [two.path, "--nshot 3"])
  }

  /// A pool folder whose manifest is random bytes, or missing.
  func testPoolCommandsRefuseDamagedAndMissingPools() throws {
    let pool = dir.url.appendingPathComponent("pool").path
    try dir.write("pool/manifest.json", Fixtures.randomBytes(2048, seed: 4))
    let models = dir.url.appendingPathComponent("real")
    try Fixtures.writeModelFolders(in: models, models: 2, perModel: 2)
    let missing = dir.path("nowhere")
    for p in [pool, missing] {
      let runs: [[String]] = [
        ["pool", "verify", p],
        ["pool", "merge", "--out", dir.path("merged-\(p.count)"), p],
        ["generate", "--pool", p, "--images", models.path, "--out", dir.path("generated")],
        ["ffd", "--real", models.path, "--synthetic", p, "--images", models.path, "--size", "16"],
        ["train", "--pool", p, "--out", dir.path("ex2.safetensors"), "--steps", "1"],
      ]
      for arguments in runs { assertFails(try CLI.run(arguments), status: 1, mentioning: [p]) }
    }
  }

  func testTrainRefusesDamagedSettingsAndStartingPoints() throws {
    let config = try dir.write("bad/config.json", Fixtures.randomBytes(300, seed: 6))
    assertFails(
      try CLI.run(["train", "--config", config, "--out", dir.path("ex2.safetensors")]), status: 1,
      mentioning: [config])
    let from = try damagedExtractors()[2]
    assertFails(
      try CLI.run([
        "train", "--fine-tune", dir.url.appendingPathComponent("images").path, "--from", from, "--out",
        dir.path("ex2.safetensors"), "--steps", "1",
      ]), status: 1,
      mentioning: [from])
  }

  func testEnsembleJoinsCheckpointsAndRefusesDamagedOnes() throws {
    let joined = dir.path("pair.safetensors")
    let r = try CLI.run(["ensemble", extractor, extractor, "--out", joined])
    XCTAssertEqual(r.status, 0, r.output)
    // Two width-4 ResNet-18s: 32 values each.
    let single = try CLI.run(["embed", "--extractor", extractor, good])
    let pair = try CLI.run(["embed", "--extractor", joined, good])
    XCTAssertTrue(single.stdout.contains("32-d embedding"), single.output)
    XCTAssertTrue(pair.stdout.contains("64-d embedding"), pair.output)
    let halfPair = dir.path("pair16.safetensors")
    XCTAssertEqual(
      try CLI.run(["ensemble", extractor, extractor, "--out", halfPair, "--storage", "float16"]).status, 0)
    XCTAssertTrue(try CLI.run(["embed", "--extractor", halfPair, good]).stdout.contains("64-d embedding"))
    let halfBytes = try FileManager.default.attributesOfItem(atPath: halfPair)[.size] as! Int
    let fullBytes = try FileManager.default.attributesOfItem(atPath: joined)[.size] as! Int
    XCTAssertLessThan(halfBytes, fullBytes)
    assertFails(
      try CLI.run(["ensemble", extractor, extractor, "--out", dir.path("x.safetensors"), "--storage", "float8"]),
      status: 64, mentioning: ["float8"])
    for path in try damagedExtractors() + [dir.path("nowhere.safetensors")] {
      assertFails(
        try CLI.run(["ensemble", extractor, path, "--out", dir.path("bad.safetensors")]), status: 1, mentioning: [path])
    }
    assertFails(
      try CLI.run(["ensemble", joined, extractor, "--out", dir.path("nested.safetensors")]), status: 1,
      mentioning: ["is an ensemble already"])
    // An ensemble is whitened part by part: the result is an ensemble of the same width.
    let whitened = dir.path("pair-w.safetensors")
    try Fixtures.writeModelFolders(in: dir.url.appendingPathComponent("models"), models: 3, perModel: 3)
    let w = try CLI.run([
      "whiten", dir.url.appendingPathComponent("models").path, "--extractor", joined, "--out", whitened,
    ])
    XCTAssertEqual(w.status, 0, w.output)
    XCTAssertTrue(w.stdout.contains("32 + 32-d whitening"), w.output)
    XCTAssertTrue(try CLI.run(["embed", "--extractor", whitened, good]).stdout.contains("64-d embedding"))
    // ENSEMBLE@K takes one part of an ensemble: its parts joined again embed as the ensemble does.
    let rejoined = dir.path("rejoined.safetensors")
    let again = try CLI.run(["ensemble", whitened + "@1", whitened + "@2", "--out", rejoined])
    XCTAssertEqual(again.status, 0, again.output)
    XCTAssertEqual(
      try CLI.run(["embed", "--json", "--extractor", rejoined, good]).stdout,
      try CLI.run(["embed", "--json", "--extractor", whitened, good]).stdout)
    assertFails(
      try CLI.run(["ensemble", whitened + "@1", whitened + "@3", "--out", dir.path("x.safetensors")]), status: 1,
      mentioning: [whitened + "@3", "from 1 to 2"])
    assertFails(
      try CLI.run(["ensemble", whitened + "@1", extractor, "--out", dir.path("x.safetensors"), "--pool", dir.path("p")]
      ),
      status: 1, mentioning: [whitened + "@1", "--pool"])
    assertFails(
      try CLI.run([
        "train", "--fine-tune", dir.url.appendingPathComponent("images").path, "--from", joined, "--out",
        dir.path("ex2.safetensors"), "--steps", "1",
      ]), status: 1, mentioning: [joined, "ensemble"])
    let one = try CLI.run(["ensemble", extractor, "--out", dir.path("one.safetensors")])
    XCTAssertFalse(one.signalled)
    XCTAssertNotEqual(one.status, 0)
    XCTAssertTrue(one.output.contains("give 2 to 8"), one.output)
  }

  func testSynthesizeAndTrainDenoiserRefuseMissingOrUnreadablePhotos() throws {
    let missing = dir.path("nowhere")
    assertFails(
      try CLI.run(["synthesize", "--images", missing, "--out", dir.path("pool"), "--archs", "000000"]), status: 1,
      mentioning: [missing])
    assertFails(
      try CLI.run(["train-denoiser", "--images", missing, "--out", dir.path("dn.safetensors")]), status: 1,
      mentioning: [missing])
    let unreadable = dir.url.appendingPathComponent("bad").path
    assertFails(
      try CLI.run(["train-denoiser", "--images", unreadable, "--out", dir.path("dn.safetensors"), "--steps", "1"]),
      status: 1, mentioning: [unreadable])
  }
}
