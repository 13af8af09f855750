import Foundation
import NN
import Tensor

/// A pool's `manifest.json`: the resolved training config and one entry per finished model.
public struct PoolManifest: Codable, Equatable, Sendable {
  /// Manifest format version.
  public static let currentVersion = 1

  /// Version of this manifest layout.
  public var formatVersion: Int
  /// How every model was trained.
  public var config: SynthesisConfig
  /// The shard this pool was built as (`i/n`), or nil for a whole or merged pool.
  public var shard: String?
  /// Finished models, sorted by key.
  public var models: [PoolEntry]

  /// A manifest in the current format.
  public init(config: SynthesisConfig, shard: Shard? = nil, models: [PoolEntry] = []) {
    formatVersion = Self.currentVersion
    self.config = config
    self.shard = shard?.description
    self.models = models
  }
}

extension PoolManifest {
  /// Decodes and checks a manifest's bytes; `name` identifies the file in errors. Every value later
  /// used as a size, count, file name or dictionary key is checked here, so a damaged or hand-edited
  /// manifest is refused with a ``PoolError`` instead of trapping when the pool is used.
  public static func decode(_ data: Data, name: String) throws -> PoolManifest {
    func bad(_ reason: String) -> PoolError { .corruptManifest(path: name, reason: reason) }
    let m: PoolManifest
    do { m = try JSONDecoder().decode(PoolManifest.self, from: data) } catch { throw bad("\(error)") }
    guard m.formatVersion == currentVersion else {
      throw bad("format version \(m.formatVersion), this build reads \(currentVersion)")
    }
    if let problem = configProblem(m.config) { throw bad("config: \(problem)") }
    if let s = m.shard, (try? Shard(s)) == nil { throw bad("shard '\(s)' is not i/n with 0 ≤ i < n") }
    var keys = Set<String>()
    for e in m.models {
      guard (try? Architecture(id: e.architecture)) != nil, e.seed >= 0 else {
        throw bad("entry \(e.key) is not an architecture id and a non-negative seed")
      }
      // Files are found relative to the pool folder; any other name could point outside it.
      guard e.file == PoolStore.fileName(e.architecture, seed: e.seed) else {
        throw bad(
          "entry \(e.key) names file '\(e.file)', expected '\(PoolStore.fileName(e.architecture, seed: e.seed))'")
      }
      guard keys.insert(e.key).inserted else { throw bad("model \(e.key) is listed twice") }
    }
    return m
  }

  /// Why a config read from a manifest cannot be trained or used, or nil when it can.
  private static func configProblem(_ c: SynthesisConfig) -> String? {
    let (steps, batch, seeds, tiles, size) = (c.steps, c.batch, c.seeds, c.tiles, c.size)
    let (learningRate, residualTarget) = (c.learningRate, c.residualTarget)
    if steps < 1 || batch < 1 || seeds < 1 || tiles < 1 {
      return "steps \(steps), batch \(batch), seeds \(seeds) and tiles \(tiles) must all be at least 1"
    }
    if !(4...4096).contains(size) || size % 4 != 0 { return "tile size \(size) is not a multiple of 4 in 4...4096" }
    if !(learningRate.isFinite && learningRate > 0) { return "learning rate \(learningRate) is not positive" }
    if !residualTarget.isFinite { return "residual target \(residualTarget) is not a number" }
    if !(c.highFrequencyWeight.isFinite && c.highFrequencyWeight >= 0) {
      return "high-frequency weight \(c.highFrequencyWeight) is not a number at least 0"
    }
    return nil
  }
}

/// One part of a deterministic split of a pool's (architecture, seed) list over `count` machines.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
  /// 0-based index (a SLURM array task id or a Kubernetes completion index).
  public var index: Int
  /// Number of shards.
  public var count: Int

  /// Parses `i/n` with 0 ≤ i < n.
  public init(_ text: String) throws {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
      throw PoolError.badShard(text)
    }
    index = i
    count = n
  }

  public var description: String { "\(index)/\(count)" }

  /// Whether the `position`-th task of the canonical list belongs to this shard. Striding (rather
  /// than contiguous ranges) gives every shard the same mix of cheap and costly architectures.
  public func owns(_ position: Int) -> Bool { position % count == index }
}

/// One model to train.
public struct SynthesisTask: Hashable, Sendable {
  /// What to train.
  public var architecture: Architecture
  /// Which seed of it.
  public var seed: Int
  /// The model's key in a pool.
  public var key: String { PoolEntry.key(architecture.id, seed) }

  /// The task of training (`architecture`, `seed`).
  public init(architecture: Architecture, seed: Int) {
    self.architecture = architecture
    self.seed = seed
  }

  /// Expected relative cost (K = 2 models take about twice as long), for ETAs and scheduling.
  public var cost: Double { Double(architecture.blocks) }

  /// The canonical list (seed-major, then architecture id), filtered to `shard`.
  public static func plan(_ architectures: [Architecture], seeds: Range<Int>, shard: Shard? = nil) -> [SynthesisTask] {
    let all = seeds.flatMap { s in architectures.map { SynthesisTask(architecture: $0, seed: s) } }
    guard let shard else { return all }
    return all.enumerated().filter { shard.owns($0.offset) }.map(\.element)
  }
}

/// A model pool on disk: `ROOT/<arch>/seed-<s>.safetensors` and `ROOT/manifest.json`. Model files are
/// written atomically before the manifest records them; the manifest is rewritten atomically after
/// each model, so a killed run loses at most the models in flight.
public final class PoolStore {
  /// The pool folder.
  public let root: URL
  /// The manifest as last written.
  public private(set) var manifest: PoolManifest
  private var index: [String: Int] = [:]

  /// `ROOT/manifest.json`.
  public var manifestURL: URL { root.appendingPathComponent("manifest.json") }
  /// The pool's tile cache, `ROOT/tiles-<size>.bin`.
  public var tilesURL: URL { root.appendingPathComponent("tiles-\(manifest.config.size).bin") }

  /// Opens the pool at `root`, creating it with `config` if it has no manifest. An existing pool must
  /// have been trained like `config` (its seed count is raised to `config.seeds`).
  public init(root: URL, config: SynthesisConfig, shard: Shard? = nil) throws {
    self.root = root
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    if FileManager.default.fileExists(atPath: root.appendingPathComponent("manifest.json").path) {
      manifest = try Self.readManifest(root)
      guard manifest.config.trainsLike(config) else {
        throw PoolError.configMismatch(path: root.path, existing: manifest.config, requested: config)
      }
      if manifest.shard != shard?.description {
        throw PoolError.shardMismatch(path: root.path, existing: manifest.shard, requested: shard?.description)
      }
      manifest.config.seeds = max(manifest.config.seeds, config.seeds)
    } else {
      manifest = PoolManifest(config: config, shard: shard)
    }
    reindex()
    try writeManifest()
  }

  /// Opens an existing pool read-only.
  public init(existing root: URL) throws {
    self.root = root
    manifest = try Self.readManifest(root)
    reindex()
  }

  static func readManifest(_ root: URL) throws -> PoolManifest {
    let url = root.appendingPathComponent("manifest.json")
    guard let data = try? Data(contentsOf: url) else { throw PoolError.notAPool(root.path) }
    return try PoolManifest.decode(data, name: url.path)
  }

  private func reindex() {
    manifest.models.sort { ($0.architecture, $0.seed) < ($1.architecture, $1.seed) }
    index = Dictionary(uniqueKeysWithValues: manifest.models.enumerated().map { ($1.key, $0) })
  }

  /// The entry of a finished model, if any.
  public func entry(_ key: String) -> PoolEntry? { index[key].map { manifest.models[$0] } }

  /// The model file of (`architecture`, `seed`), relative to the root.
  public static func fileName(_ architecture: String, seed: Int) -> String {
    "\(architecture)/seed-\(seed).safetensors"
  }

  /// The model file of a recorded entry.
  public func url(of entry: PoolEntry) -> URL { root.appendingPathComponent(entry.file) }

  /// Saves a freshly trained model atomically; returns its entry with file and checksum filled in.
  /// Safe to call from a worker process: it touches only the model's own file.
  public static func save(_ model: SyntheticModel, entry: PoolEntry, config: SynthesisConfig, root: URL) throws
    -> PoolEntry
  {
    var e = entry
    e.file = fileName(entry.architecture, seed: entry.seed)
    e.checksum = ""
    let url = root.appendingPathComponent(e.file)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    try model.save(
      to: url,
      metadata: [
        "architecture": entry.architecture, "seed": "\(entry.seed)",
        "config": String(decoding: try encoder.encode(config), as: UTF8.self),
        "record": String(decoding: try encoder.encode(e), as: UTF8.self),
      ])
    e.checksum = try Checksum.file(url)
    return e
  }

  /// Records a finished model and rewrites the manifest.
  public func record(_ entry: PoolEntry) throws {
    if let i = index[entry.key] { manifest.models[i] = entry } else { manifest.models.append(entry) }
    reindex()
    try writeManifest()
  }

  /// Forgets a model (its file stays unless `delete`).
  public func forget(_ key: String, delete: Bool = false) throws {
    guard let i = index[key] else { return }
    if delete { try? FileManager.default.removeItem(at: url(of: manifest.models[i])) }
    manifest.models.remove(at: i)
    reindex()
    try writeManifest()
  }

  /// Writes the manifest atomically.
  public func writeManifest() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(manifest), to: manifestURL)
  }

  /// Whether a recorded model's file exists and has its recorded checksum.
  public func verify(_ entry: PoolEntry) -> Bool {
    (try? Checksum.file(url(of: entry))) == entry.checksum
  }

  /// What reconciling the manifest with the files found.
  public struct Reconciliation: Equatable, Sendable {
    /// Recorded models whose file is missing or altered: dropped from the manifest, to retrain.
    public var dropped: [String] = []
    /// Model files a killed run saved but did not record: verified and recorded.
    public var recovered: [String] = []
    /// Unfinished temporary files removed.
    public var removedTemporaries = 0

    /// Nothing found.
    public init() {}
  }

  /// Checks every recorded model's checksum, records complete model files the manifest lacks (a run
  /// killed between saving a model and recording it) and removes temporary files of killed writes.
  public func reconcile() throws -> Reconciliation {
    var r = Reconciliation()
    for e in manifest.models where !verify(e) { r.dropped.append(e.key) }
    for key in r.dropped { try forget(key) }
    let fm = FileManager.default
    for dir in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] {
      let sub = root.appendingPathComponent(dir)
      if dir.hasPrefix("."), dir.hasSuffix(".tmp") {
        try? fm.removeItem(at: sub)
        r.removedTemporaries += 1
        continue
      }
      guard (try? Architecture(id: dir)) != nil else { continue }
      for name in (try? fm.contentsOfDirectory(atPath: sub.path)) ?? [] {
        let file = sub.appendingPathComponent(name)
        if name.hasPrefix("."), name.hasSuffix(".tmp") {
          try? fm.removeItem(at: file)
          r.removedTemporaries += 1
          continue
        }
        guard name.hasPrefix("seed-"), name.hasSuffix(".safetensors"),
          let seed = Int(name.dropFirst(5).dropLast(12)), entry(PoolEntry.key(dir, seed)) == nil
        else { continue }
        if var e = Self.recordInFile(file, config: manifest.config) {
          e.checksum = try Checksum.file(file)
          try record(e)
          r.recovered.append(e.key)
        }
      }
    }
    return r
  }

  /// The record a model file carries, if the file is complete and was trained under `config`.
  static func recordInFile(_ url: URL, config: SynthesisConfig) -> PoolEntry? {
    guard let file = try? Safetensors.read(url), let c = file.metadata["config"], let r = file.metadata["record"],
      let fileConfig = try? JSONDecoder().decode(SynthesisConfig.self, from: Data(c.utf8)),
      fileConfig.trainsLike(config),
      let entry = try? JSONDecoder().decode(PoolEntry.self, from: Data(r.utf8))
    else { return nil }
    return entry
  }

  /// Loads a recorded model, verifying its checksum first.
  public func load(_ entry: PoolEntry) throws -> SyntheticModel {
    guard verify(entry) else { throw PoolError.corruptModel(path: url(of: entry).path) }
    let model = SyntheticModel(try Architecture(id: entry.architecture), seed: 0, head: manifest.config.outputHead)
    try model.load(from: url(of: entry))
    model.eval()
    return model
  }

  /// Joins shard pools into `destination` (created if missing): every shard must be trained alike;
  /// model files are copied and verified; a model present in two shards must be identical.
  @discardableResult
  public static func merge(_ shards: [URL], into destination: URL) throws -> PoolStore {
    let sources = try shards.map { try PoolStore(existing: $0) }
    guard let first = sources.first else { throw PoolError.nothingToMerge }
    var config = first.manifest.config
    for s in sources where !s.manifest.config.trainsLike(config) {
      throw PoolError.configMismatch(path: s.root.path, existing: s.manifest.config, requested: config)
    }
    config.seeds = sources.map(\.manifest.config.seeds).max()!
    let out = try PoolStore(root: destination, config: config)
    for s in sources {
      for e in s.manifest.models {
        guard s.verify(e) else { throw PoolError.corruptModel(path: s.url(of: e).path) }
        if let have = out.entry(e.key) {
          guard have.checksum == e.checksum else { throw PoolError.conflict(key: e.key) }
          continue
        }
        let target = out.url(of: e)
        if s.root.standardizedFileURL != out.root.standardizedFileURL {
          try AtomicFile.write(try Data(contentsOf: s.url(of: e)), to: target)
        }
        guard (try? Checksum.file(target)) == e.checksum else { throw PoolError.corruptModel(path: target.path) }
        try out.record(e)
      }
    }
    return out
  }
}

/// A pool that cannot be opened, extended or merged.
public enum PoolError: Error, CustomStringConvertible, Equatable {
  case notAPool(String)
  case corruptManifest(path: String, reason: String)
  case configMismatch(path: String, existing: SynthesisConfig, requested: SynthesisConfig)
  case shardMismatch(path: String, existing: String?, requested: String?)
  case badShard(String)
  case corruptModel(path: String)
  case conflict(key: String)
  case nothingToMerge

  public var description: String {
    switch self {
    case .notAPool(let p): return "\(p): no manifest.json here; build a pool with `modelprint synthesize --out \(p)`"
    case .corruptManifest(let p, let r):
      return "\(p): unreadable pool manifest (\(r)); restore the file from a copy, or build the pool again "
        + "with `modelprint synthesize` into a new --out folder"
    case .configMismatch(let p, let e, let r):
      return "\(p) was trained with steps \(e.steps), batch \(e.batch), size \(e.size), lr \(e.learningRate), "
        + "target \(e.residualTarget), tiles \(e.tiles) (seed \(e.tileSeed)); this run asks for steps \(r.steps), "
        + "batch \(r.batch), size \(r.size), lr \(r.learningRate), target \(r.residualTarget), tiles \(r.tiles) "
        + "(seed \(r.tileSeed)). Use the same settings or another --out folder."
    case .shardMismatch(let p, let e, let r):
      return "\(p) is \(e.map { "shard \($0)" } ?? "a whole pool"), this run asks for "
        + "\(r.map { "shard \($0)" } ?? "a whole pool"); give each shard its own --out folder"
    case .badShard(let s): return "--shard '\(s)' must be i/n with 0 ≤ i < n (e.g. 0/4 … 3/4)"
    case .corruptModel(let p): return "\(p): model file missing or its checksum differs from the manifest"
    case .conflict(let k): return "model \(k) is in two shards with different weights; shards must be disjoint"
    case .nothingToMerge: return "no shard pools given to merge"
    }
  }
}
