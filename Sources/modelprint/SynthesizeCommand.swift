import ArgumentParser
import Foundation
import Imaging
import NN
import Synthesis
import Tensor

/// Selection of architectures shared by `synthesize`, `architectures` and `ffd`.
struct ArchitectureOptions: ParsableArguments {
  @Option(
    name: .customLong("archs"),
    help: "Architectures: all (of --space), or comma-separated ids (six digits: paper's; eight: extended).")
  var archs: String = "all"

  @Option(
    help: ArgumentHelp(
      "Architecture space of --archs all: paper (the paper's 288) or extended (17920: pixel shuffle, K up to 4, "
        + "leaky ReLU/SiLU/GELU, group/layer norm, 1×1, 5×5 and modulated convolutions, residual units)."))
  var space: ArchitectureSpace = .paper

  @Option(help: "Keep only an ablation's subset: K, L, S, U, A, N or seed (the paper's Table II), C or R.")
  var ablation: String?

  @Option(help: "Keep a seeded random sample of N of the selected architectures (listed in id order).")
  var sample: Int?

  @Option(help: "Seed of --sample's draw.") var sampleSeed: UInt64 = 0

  func resolved() throws -> [Architecture] {
    var list: [Architecture]
    if archs == "all" {
      list = Architecture.space(space)
    } else {
      list = try archs.split(separator: ",").map { s -> Architecture in
        do { return try Architecture(id: s.trimmingCharacters(in: .whitespaces)) } catch {
          throw ValidationError("\(error)")
        }
      }
    }
    if let ablation {
      guard let a = Ablation(flag: ablation) else {
        throw ValidationError("--ablation must be one of K, L, S, U, A, N, seed, C, R; got '\(ablation)'")
      }
      list = list.filter(a.includes)
    }
    guard !list.isEmpty else { throw ValidationError("no architecture left after --archs and --ablation") }
    if let sample {
      guard sample >= 1 else { throw ValidationError("--sample must be at least 1, got \(sample)") }
      list = Self.sample(list, count: sample, seed: sampleSeed)
    }
    return list
  }

  /// `count` of `list` drawn without replacement by a partial Fisher–Yates shuffle from `seed`, in
  /// `list`'s order; all of it when `count` is not smaller.
  static func sample(_ list: [Architecture], count: Int, seed: UInt64) -> [Architecture] {
    guard count < list.count else { return list }
    var rng = RNG(seed: seed)
    var index = Array(list.indices)
    for i in 0..<count { index.swapAt(i, i + rng.int(index.count - i)) }
    return index.prefix(count).sorted().map { list[$0] }
  }

  /// Refuses an unknown id or ablation before any work, so ArgumentParser prints this command's usage.
  func validate() throws { _ = try resolved() }
}

extension ArchitectureSpace: ExpressibleByArgument {}

/// `modelprint architectures`: the synthetic architecture space.
struct ArchitecturesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "architectures",
    abstract: "List the synthetic architectures (id b l o u a n [c r]) with their components.")

  @OptionGroup var selection: ArchitectureOptions
  @Flag(help: "One JSON object per line.") var json = false

  func run() throws {
    let list = try selection.resolved()
    // Kernel and skip columns only where an architecture of the extended space is listed, so the
    // paper's listing stays as it was.
    let extended = list.contains { !$0.isPaper }
    if !json {
      print(
        (extended ? "id        " : "id      ") + "K  L  order  upsampling       activation  norm      "
          + (extended ? "conv     residual  " : "") + "parameters")
    }
    for a in list {
      var rng = RNG(seed: 0)
      let params = SyntheticModel(a, rng: &rng).parameterCount
      if json {
        print(
          "{\"id\":\"\(a.id)\",\"blocks\":\(a.blocks),\"layers\":\(a.layers),\"order\":\"\(a.order)\","
            + "\"upsampling\":\"\(a.upsampling)\",\"activation\":\"\(a.activation)\",\"norm\":\"\(a.norm)\","
            + (extended
              ? "\"kernel\":\(a.kernel.size),\"modulated\":\(a.kernel.isModulated),\"residual\":\(a.residual)," : "")
            + "\"parameters\":\(params)}")
      } else {
        print(
          a.id.padding(toLength: extended ? 10 : 8, withPad: " ", startingAt: 0) + "\(a.blocks)  \(a.layers)  "
            + "\(a.order)".padding(toLength: 7, withPad: " ", startingAt: 0)
            + "\(a.upsampling)".padding(toLength: 17, withPad: " ", startingAt: 0)
            + "\(a.activation)".padding(toLength: 12, withPad: " ", startingAt: 0)
            + "\(a.norm)".padding(toLength: 10, withPad: " ", startingAt: 0)
            + (extended
              ? a.kernel.label.padding(toLength: 9, withPad: " ", startingAt: 0)
                + (a.residual ? "yes" : "no").padding(toLength: 10, withPad: " ", startingAt: 0) : "")
            + "\(params)")
      }
    }
    if !json { print("\(list.count) architecture(s)") }
  }
}

/// `modelprint synthesize`: trains the synthetic model pool.
struct SynthesizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "synthesize",
    abstract: "Train the pool of synthetic generative models (architectures × seeds) by reconstruction.",
    discussion: """
      Each model reconstructs real tiles (inputs in [−1, 1], MSE, Adam) until the residual target or the
      step budget. W worker processes train one model each with the libraries single-threaded. Models are
      saved atomically as POOL/<arch>/seed-<s>.safetensors and recorded in POOL/manifest.json; a re-run
      verifies and skips finished models, so a killed run resumes where it was. --shard i/n builds one
      deterministic part of the pool (0 ≤ i < n) for a job array; `modelprint pool merge` joins the parts.
      Defaults (288 × 1 seed, 64 px, batch 8, 150 steps) took 24.7 minutes with 2 workers on 2 cores
      (docs/synthesis.md); --paper selects the paper's scale (128 px, 20 seeds, 1000-step budget).
      """)

  @Option(help: "Folder of real photographs (tiles are cut once and cached in the pool).")
  var images: String = "data/photos"

  @Option(name: .shortAndLong, help: "Pool folder (created if missing; an existing pool is resumed).")
  var out: String

  @OptionGroup var selection: ArchitectureOptions

  @Flag(help: "Start from the paper's configuration (128 px, 20 seeds, 1000 steps); flags still override.")
  var paper = false

  @Option(help: "Seeds per architecture (default 1).") var seeds: Int?
  @Option(help: "Adam steps at most per model (default 150).") var steps: Int?
  @Option(help: "Tiles per step (default 8).") var batch: Int?
  @Option(help: "Tile side in pixels, a multiple of 4 (default 64).") var size: Int?
  @Option(help: "Learning rate (default 0.001).") var lr: Float?
  @Option(help: "Stop a model once its mean MSE over 10 steps is at most this; 0 = off (default 0.002).")
  var residualTarget: Float?
  @Option(help: "Real tiles to cut (default 6000).") var tiles: Int?
  @Option(help: "Weight of the high-frequency reconstruction term, which keeps models from blurring (default 0).")
  var highFrequencyWeight: Float?
  @Option(help: "After the last unit: none (the paper's space) or conv1x1, a per-pixel colour map (default none).")
  var outputHead: OutputHead?

  @Option(help: "Worker processes, one model each (default: every core).")
  var workers: Int = ProcessInfo.processInfo.activeProcessorCount

  @Option(help: "Build only part i/n of the pool (0-based), e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.")
  var shard: String?

  func resolvedConfig() -> SynthesisConfig {
    var c = paper ? SynthesisConfig.paper : SynthesisConfig()
    if let seeds { c.seeds = seeds }
    if let steps { c.steps = steps }
    if let batch { c.batch = batch }
    if let size { c.size = size }
    if let lr { c.learningRate = lr }
    if let residualTarget { c.residualTarget = residualTarget }
    if let tiles { c.tiles = tiles }
    if let highFrequencyWeight { c.highFrequencyWeight = highFrequencyWeight }
    if let outputHead { c.outputHead = outputHead }
    return c
  }

  func validate() throws {
    let c = resolvedConfig()
    guard c.seeds >= 1, c.steps >= 1, c.batch >= 1, c.tiles >= 1 else {
      throw ValidationError("--seeds, --steps, --batch and --tiles must be at least 1")
    }
    guard c.size >= 8, c.size <= 1024, c.size % 4 == 0 else {
      throw ValidationError("--size must be a multiple of 4 from 8 to 1024, got \(c.size)")
    }
    // K block pairs halve the tile K times; the extended space's K = 3 and 4 need multiples of 8 and 16.
    let blocks = try selection.resolved().map(\.blocks).max() ?? 1
    guard c.size % (1 << blocks) == 0 else {
      throw ValidationError(
        "--size \(c.size) is not a multiple of \(1 << blocks), which architectures with K = \(blocks) need")
    }
    guard c.learningRate > 0, c.residualTarget >= 0 else {
      throw ValidationError("--lr must be positive and --residual-target not negative")
    }
    guard c.highFrequencyWeight.isFinite, c.highFrequencyWeight >= 0 else {
      throw ValidationError("--high-frequency-weight must be a number at least 0, got \(c.highFrequencyWeight)")
    }
    guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
    if let shard {
      do { _ = try Shard(shard) } catch { throw ValidationError("\(error)") }
    }
  }

  func run() throws {
    let config = resolvedConfig()
    let shard = try self.shard.map { try Shard($0) }
    let root = URL(fileURLWithPath: out)
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let lock = try PoolLock(root)
    defer { lock.release() }
    let store = try PoolStore(root: root, config: config, shard: shard)
    let r = try store.reconcile()
    if !r.dropped.isEmpty {
      Log.info("\(r.dropped.count) model(s) missing or corrupt, to retrain: \(r.dropped.joined(separator: ", "))")
    }
    if !r.recovered.isEmpty { Log.info("recovered \(r.recovered.count) model(s) saved by an interrupted run") }
    try ensureTiles(store)
    let planned = SynthesisTask.plan(try selection.resolved(), seeds: 0..<config.seeds, shard: shard)
    let todo = planned.filter { store.entry($0.key) == nil }.sorted { $0.cost > $1.cost }
    Log.info(
      "pool \(root.path): \(planned.count) model(s) planned\(shard.map { " in shard \($0)" } ?? ""), "
        + "\(planned.count - todo.count) already done, \(todo.count) to train with \(min(workers, max(todo.count, 1))) worker(s)"
    )
    guard !todo.isEmpty else {
      summarize(store, trained: [], wall: 0, workers: 0)
      return
    }
    let runner = WorkerPool(root: root, count: min(workers, todo.count))
    let progress = Progress(total: todo.reduce(0) { $0 + $1.cost }, label: "synthesize")
    var trained: [PoolEntry] = []
    var failed: [String] = []
    let wall = try runner.run(todo) { task, result in
      switch result {
      case .success(let entry):
        try store.record(entry)
        trained.append(entry)
        progress.advance(
          by: task.cost, count: "\(trained.count + failed.count)/\(todo.count)",
          detail: String(
            format: "%@ s%d %4.1fs mse %.4f", entry.architecture, entry.seed, entry.seconds, entry.finalResidual))
      case .failure(let message):
        failed.append(task.key)
        progress.advance(
          by: task.cost, count: "\(trained.count + failed.count)/\(todo.count)", detail: "\(task.key) FAILED")
        progress.finish()
        Log.info("\(task.key): \(message)")
      }
    }
    progress.finish()
    summarize(store, trained: trained, wall: wall, workers: runner.count)
    if !failed.isEmpty {
      Log.info(
        "\(failed.count) model(s) failed: \(failed.joined(separator: ", ")); re-run the same command to retry them")
      throw ExitCode(1)
    }
  }

  /// Reads the pool's tile cache, or cuts it from --images.
  func ensureTiles(_ store: PoolStore) throws {
    let url = store.tilesURL
    if FileManager.default.fileExists(atPath: url.path) {
      let t = try TileSet.read(url, size: store.manifest.config.size)
      Log.info("tiles: \(t.count) cached \(t.size)-px tiles in \(url.lastPathComponent)")
      return
    }
    let files = try ImageFiles.collect([images])
    guard !files.isEmpty else { throw InputError("no photos under \(images) (give --images DIR)") }
    Log.info(
      "cutting \(store.manifest.config.tiles) tiles of \(store.manifest.config.size) px from \(files.count) photos in \(images)"
    )
    let start = Date()
    let t = try TileSet.cut(
      from: files, count: store.manifest.config.tiles, size: store.manifest.config.size,
      seed: store.manifest.config.tileSeed
    ) { Log.info("  skipped \($0)") }
    try t.write(to: url)
    Log.info(String(format: "tiles: %d in %.1f s", t.count, Date().timeIntervalSince(start)))
  }

  /// Seconds per model by K, GFLOP/s and a JSON line on standard output.
  func summarize(_ store: PoolStore, trained: [PoolEntry], wall: Double, workers: Int) {
    var json: [String: Any] = [
      "stage": "synthesis", "pool_models": store.manifest.models.count, "trained": trained.count,
      "wall_seconds": (wall * 10).rounded() / 10, "workers": workers,
    ]
    for k in ["0", "1", "2", "3"] {
      let s = trained.filter { $0.architecture.hasPrefix(k) }.map(\.seconds).sorted()
      guard !s.isEmpty else { continue }
      let mean = s.reduce(0, +) / Double(s.count)
      let k1 = Int(k)! + 1
      Log.info(
        String(
          format: "K = %d: %d models, %.2f s per model (median %.2f, min %.2f, max %.2f)", k1, s.count, mean,
          s[s.count / 2], s.first!, s.last!))
      json["k\(k1)_seconds_mean"] = (mean * 1000).rounded() / 1000
      json["k\(k1)_seconds_median"] = (s[s.count / 2] * 1000).rounded() / 1000
    }
    if wall > 0 {
      let gflop = trained.reduce(0) { $0 + $1.convGFLOPPerStep * Double($1.steps) }
      let busy = trained.reduce(0) { $0 + $1.seconds }
      Log.info(
        String(
          format: "%d models in %@ (%.1f models/min); convolutions %.1f GFLOP/s over the run, %.1f per busy worker",
          trained.count, Progress.clock(wall), Double(trained.count) / wall * 60, gflop / wall, gflop / busy))
      json["conv_gflops"] = (gflop / wall * 10).rounded() / 10
      let early = trained.filter(\.reachedTarget).count
      json["reached_target"] = early
    }
    if let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]) {
      print(String(decoding: data, as: UTF8.self))
    }
  }
}

/// `modelprint synthesize-worker`: one worker process of `synthesize` (internal). Reads `ARCH SEED`
/// lines on standard input, trains and saves each model, answers one JSON line per model.
struct SynthesizeWorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "synthesize-worker", abstract: "Internal: one worker process of `synthesize`.", shouldDisplay: false)

  @Option var pool: String

  func run() throws {
    Threads.set(1)
    let root = URL(fileURLWithPath: pool)
    let store = try PoolStore(existing: root)
    let config = store.manifest.config
    let trainer = ReconstructionTrainer(config: config, tiles: try TileSet.read(store.tilesURL, size: config.size))
    while let line = readLine() {
      let parts = line.split(separator: " ")
      var reply: [String: Any]
      do {
        guard parts.count == 2, let seed = Int(parts[1]) else { throw InputError("bad task line '\(line)'") }
        let arch = try Architecture(id: String(parts[0]))
        let (model, entry) = try trainer.train(arch, seed: seed)
        let saved = try PoolStore.save(model, entry: entry, config: config, root: root)
        reply = ["entry": String(decoding: try JSONEncoder().encode(saved), as: UTF8.self)]
      } catch {
        reply = ["error": "\(error)"]
      }
      let data = try JSONSerialization.data(withJSONObject: reply)
      print(String(decoding: data, as: UTF8.self))
      fflush(stdout)
    }
  }
}

/// Drives worker processes of `synthesize`, one thread per worker, handing out tasks in order.
final class WorkerPool {
  enum Result {
    case success(PoolEntry)
    case failure(String)
  }

  let root: URL
  let count: Int

  init(root: URL, count: Int) {
    self.root = root
    self.count = count
  }

  /// The executable of this process, to start workers from.
  static var executable: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
  }

  /// Runs `tasks`; `handle` is called serially (under a lock) for each result. Returns wall seconds.
  func run(_ tasks: [SynthesisTask], handle: @escaping (SynthesisTask, Result) throws -> Void) throws -> Double {
    signal(SIGPIPE, SIG_IGN)
    /// Task cursor and first handler error, shared by the driver threads under `lock`.
    final class Shared: @unchecked Sendable {
      let lock = NSLock()
      var next = 0
      var firstError: Error?
    }
    let shared = Shared()
    let group = DispatchGroup()
    let start = Date()
    for _ in 0..<count {
      group.enter()
      let thread = Thread { [self] in
        defer { group.leave() }
        var worker: Worker?
        while true {
          shared.lock.lock()
          guard shared.firstError == nil, shared.next < tasks.count else {
            shared.lock.unlock()
            break
          }
          let task = tasks[shared.next]
          shared.next += 1
          shared.lock.unlock()
          var result: Result
          do {
            if worker == nil { worker = try Worker(executable: Self.executable, pool: root) }
            result = try worker!.train(task)
          } catch {
            result = .failure("\(error)")
            worker?.terminate()
            worker = nil
          }
          shared.lock.lock()
          do { try handle(task, result) } catch { shared.firstError = shared.firstError ?? error }
          shared.lock.unlock()
        }
        worker?.finish()
      }
      thread.start()
    }
    group.wait()
    if let e = shared.firstError { throw e }
    return Date().timeIntervalSince(start)
  }
}

/// One worker child process and its pipes.
final class Worker {
  let process = Process()
  let input = Pipe()
  let output = Pipe()
  let reader: UnsafeMutablePointer<FILE>

  init(executable: URL, pool: URL) throws {
    process.executableURL = executable
    process.arguments = ["synthesize-worker", "--pool", pool.path]
    var env = ProcessInfo.processInfo.environment
    env["OMP_NUM_THREADS"] = "1"
    env["OPENBLAS_NUM_THREADS"] = "1"
    process.environment = env
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // The child's ends must close here, or a crashed worker would never read as end of file.
    try? output.fileHandleForWriting.close()
    try? input.fileHandleForReading.close()
    guard let f = fdopen(dup(output.fileHandleForReading.fileDescriptor), "r") else {
      throw InputError("cannot read from a worker process; run again, or with --workers 1")
    }
    reader = f
  }

  /// Sends one task and waits for its answer.
  func train(_ task: SynthesisTask) throws -> WorkerPool.Result {
    try input.fileHandleForWriting.write(contentsOf: "\(task.architecture.id) \(task.seed)\n".data(using: .utf8)!)
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    guard getline(&line, &capacity, reader) > 0, let line else {
      process.waitUntilExit()
      return .failure("worker process exited (status \(process.terminationStatus)) while training it")
    }
    let text = String(cString: line)
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else {
      return .failure("unexpected worker answer: \(text)")
    }
    if let e = object["entry"], let entry = try? JSONDecoder().decode(PoolEntry.self, from: Data(e.utf8)) {
      return .success(entry)
    }
    return .failure(object["error"] ?? "unexpected worker answer: \(text)")
  }

  /// Closes the worker's input (it exits after its current task) and waits for it.
  func finish() {
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
    fclose(reader)
  }

  func terminate() {
    if process.isRunning { process.terminate() }
    finish()
  }
}

/// An exclusive lock on a pool folder, so two runs never train into the same pool.
final class PoolLock {
  let fd: Int32

  init(_ root: URL) throws {
    fd = open(root.appendingPathComponent(".lock").path, O_CREAT | O_RDWR, 0o644)
    guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      throw InputError(
        "\(root.path) is being built by another `modelprint synthesize`; wait for it or use another --out")
    }
  }

  func release() {
    flock(fd, LOCK_UN)
    close(fd)
  }
}

extension OutputHead: ExpressibleByArgument {}
