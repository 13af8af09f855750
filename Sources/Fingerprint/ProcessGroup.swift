import Foundation

/// The processes of a data-parallel training job and the two collectives it needs. Every process calls
/// each collective in the same order with buffers of the same size (MPI's rule); `rank` 0 is the one that
/// writes checkpoints and logs. ``SingleProcess`` is the group of one; the MPI implementation lives in
/// the optional `MPITraining` target so that the engine never needs MPI to build.
public protocol ProcessGroup: AnyObject {
  /// This process's index, 0 ..< size.
  var rank: Int { get }
  /// The number of processes.
  var size: Int { get }
  /// Replaces `buffer` by the element-wise sum of every process's buffer, the same on every process.
  func allReduceSum(_ buffer: inout [Float])
  /// Every process's `local` (all of one length), concatenated in rank order.
  func allGather(_ local: [Float]) -> [Float]
  /// The same for bytes (fingerprinted tiles).
  func allGather(_ local: [UInt8]) -> [UInt8]
}

/// The group of one process: collectives are identities.
public final class SingleProcess: ProcessGroup {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func allReduceSum(_ buffer: inout [Float]) {}
  public func allGather(_ local: [Float]) -> [Float] { local }
  public func allGather(_ local: [UInt8]) -> [UInt8] { local }
}

/// How this process was started: whether an MPI launcher (`mpirun`/`mpiexec` of Open MPI or MPICH, or
/// Slurm's `srun --mpi=pmix|pmi2`) made it one rank of a job of several. Read from the launchers'
/// environment, so that a build without MPI can refuse to train a rank's share as if it were the whole
/// job, and a job of one rank runs as a plain process.
public enum MPILaunch {
  /// Variables a launcher sets on every rank; the first two give the rank count.
  public static let variables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"]

  /// Whether `environment` is a rank's of a job of more than one rank (or of an unknown count: Slurm's
  /// PMIx without `SLURM_NTASKS`).
  public static func isLaunched(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
    guard let name = variables.first(where: { environment[$0] != nil }) else { return false }
    let count = environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? environment["SLURM_NTASKS"]
    return count.flatMap { Int($0) }.map { $0 > 1 } ?? !name.isEmpty
  }
}
