import ArgumentParser
import Foundation
import Synthesis

/// `modelprint pool`: inspect, verify and merge model pools.
struct PoolCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pool", abstract: "Inspect, verify and merge synthetic model pools.",
    subcommands: [Merge.self, Verify.self])

  struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Join shard pools (built with --shard i/n) into one pool, verifying every model's checksum.")

    @Option(name: .shortAndLong, help: "Merged pool folder (created if missing; may already hold models).")
    var out: String

    @Argument(help: "Shard pool folders.")
    var shards: [String]

    func run() throws {
      let start = Date()
      let store = try PoolStore.merge(shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: out))
      print(
        String(
          format: "merged %d shard(s) into %@: %d models (%.1f s)", shards.count, out, store.manifest.models.count,
          Date().timeIntervalSince(start)))
    }
  }

  struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check every model file of a pool against its manifest checksum; summarise the pool.")

    @Argument(help: "Pool folder.")
    var pool: String

    func run() throws {
      let store = try PoolStore(existing: URL(fileURLWithPath: pool))
      let bad = store.manifest.models.filter { !store.verify($0) }
      let c = store.manifest.config
      print(
        "\(pool): \(store.manifest.models.count) models, \(c.size) px, \(c.steps) steps, batch \(c.batch), "
          + "lr \(c.learningRate), residual target \(c.residualTarget)\(store.manifest.shard.map { ", shard \($0)" } ?? "")"
      )
      for k in [1, 2] {
        let e = store.manifest.models.filter { $0.architecture.hasPrefix("\(k - 1)") }
        guard !e.isEmpty else { continue }
        let r = e.map(\.finalResidual).sorted()
        print(String(format: "K = %d: %d models, median final MSE %.4f", k, e.count, r[r.count / 2]))
      }
      if bad.isEmpty {
        print("all checksums match")
      } else {
        print("\(bad.count) model(s) missing or corrupt: \(bad.map(\.key).joined(separator: ", "))")
        print("re-run `modelprint synthesize` on the pool to retrain them")
        throw ExitCode(1)
      }
    }
  }
}
