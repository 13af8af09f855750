import ArgumentParser
import Foundation
import Tensor

@main
struct ModelPrint: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "modelprint",
    abstract: "Attribute images to the generative model that made them, also models never seen in training.",
    subcommands: [
      DemoCommand.self, ArchitecturesCommand.self, SynthesizeCommand.self, SynthesizeWorkerCommand.self,
      PoolCommand.self,
      GenerateCommand.self, FFDCommand.self, TrainCommand.self, EmbedCommand.self,
      SpectrumCommand.self, TrainDenoiserCommand.self, GalleryCommand.self, IdentifyCommand.self,
      VerifyCommand.self, CalibrateCommand.self, ExplainCommand.self, EvaluateCommand.self, MergeResultsCommand.self,
      WhitenCommand.self, EnsembleCommand.self, ServeCommand.self,
    ])
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
  @Option(help: "Threads for all kernels (default: MODELPRINT_THREADS, else OMP_NUM_THREADS, else every core).")
  var threads: Int?

  /// The thread count this run uses: the flag, else the engine's default.
  var resolvedThreads: Int { threads ?? Threads.defaultCount }

  func validate() throws {
    // Far more threads than cores only adds overhead, and OpenMP aborts when it cannot start them.
    guard (1...1024).contains(resolvedThreads) else {
      throw ValidationError("--threads must be between 1 and 1024, got \(resolvedThreads)")
    }
  }

  func apply() throws {
    try validate()
    Threads.set(resolvedThreads)
  }
}

/// Progress lines on standard error, so that standard output stays machine-readable.
enum Log {
  /// Silences ``info(_:)`` and ``Progress``: the ranks of a data-parallel job other than 0.
  nonisolated(unsafe) static var muted = false

  static func info(_ message: String) {
    guard !muted else { return }
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
  }
}

/// Writes a Codable configuration as pretty JSON beside a run's outputs.
func saveConfig<T: Encodable>(_ config: T, to url: URL) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  try encoder.encode(config).write(to: url, options: .atomic)
}
