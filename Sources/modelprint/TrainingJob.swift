import Fingerprint
import Foundation

#if MODELPRINT_MPI
  import MPITraining
#endif

/// The processes of one `modelprint train` job: this process alone, or, under `mpirun`/`srun` in a build
/// with MPI (`MODELPRINT_MPI=1`, Sources/MPITraining/README.md), one rank of the data-parallel job.
enum TrainingJob {
  /// Whether this build can train over MPI.
  static var hasMPI: Bool {
    #if MODELPRINT_MPI
      return true
    #else
      return false
    #endif
  }

  /// This process's group. A launcher's environment in a build without MPI is refused: every rank
  /// would train the whole job alone and write the same files.
  static func start() throws -> ProcessGroup {
    guard MPILaunch.isLaunched() else { return SingleProcess() }
    #if MODELPRINT_MPI
      let group = try MPIProcessGroup()
      if let fault = try InjectedFault(ProcessInfo.processInfo.environment[InjectedFault.variable]) {
        return FaultyGroup(group, fault: fault)
      }
      return group
    #else
      throw InputError(
        "this modelprint was built without MPI support, but it was started as one rank of an MPI job "
          + "(\(MPILaunch.variables.filter { ProcessInfo.processInfo.environment[$0] != nil }.joined(separator: ", ")) set); "
          + "rebuild with `MODELPRINT_MPI=1 swift build -c release` (needs libopenmpi-dev), or run without mpirun/srun")
    #endif
  }

  /// Ends a job of several ranks after `error` on this rank: says which rank failed and why, then
  /// aborts every rank (the others may be waiting in a collective). A group of one just rethrows.
  static func fail(_ group: ProcessGroup, _ error: Error) throws -> Never {
    #if MODELPRINT_MPI
      if let mpi = (group as? FaultyGroup)?.base ?? group as? MPIProcessGroup, mpi.size > 1 {
        // Not through Log: a rank other than 0 is muted.
        let message = "modelprint train: rank \(mpi.rank) of \(mpi.size) failed: \(error); ending the job\n"
        FileHandle.standardError.write(Data(message.utf8))
        mpi.abort(1)
      }
    #endif
    throw error
  }

  /// Leaves MPI at the end of a finished job.
  static func finish(_ group: ProcessGroup) {
    #if MODELPRINT_MPI
      ((group as? FaultyGroup)?.base ?? group as? MPIProcessGroup)?.finish()
    #endif
  }
}

/// A rank failure on purpose, for checking that a job of several ranks ends (never hangs) and says
/// why: `MODELPRINT_TRAIN_FAULT=RANK:STEP:kill` SIGKILLs rank RANK as it enters the all-reduce of the
/// STEP-th step it trains (0-based, counted from where this run started)
/// (a node lost), `…:error` makes it fail there with an error (an exception on one rank).
struct InjectedFault {
  static let variable = "MODELPRINT_TRAIN_FAULT"
  var rank: Int
  var step: Int
  var kill: Bool

  init?(_ text: String?) throws {
    guard let text else { return nil }
    let parts = text.split(separator: ":").map(String.init)
    guard parts.count == 3, let r = Int(parts[0]), let s = Int(parts[1]), ["kill", "error"].contains(parts[2]) else {
      throw InputError("\(Self.variable)=\(text): expected RANK:STEP:kill or RANK:STEP:error")
    }
    (rank, step, kill) = (r, s, parts[2] == "kill")
  }
}

/// Why an injected fault stopped a rank.
struct InjectedFaultError: Error, CustomStringConvertible {
  var step: Int
  var description: String { "injected fault at step \(step) (\(InjectedFault.variable))" }
}

#if MODELPRINT_MPI
  /// A group that fails as its ``InjectedFault`` says; collectives otherwise go to `base`.
  final class FaultyGroup: ProcessGroup {
    let base: MPIProcessGroup
    let fault: InjectedFault
    private var reductions = 0

    init(_ base: MPIProcessGroup, fault: InjectedFault) { (self.base, self.fault) = (base, fault) }
    var rank: Int { base.rank }
    var size: Int { base.size }

    func allReduceSum(_ buffer: inout [Float]) {
      // One gradient all-reduce per training step: the count is the step.
      if rank == fault.rank && reductions == fault.step {
        if fault.kill { raise(SIGKILL) }
        try? TrainingJob.fail(base, InjectedFaultError(step: reductions))
      }
      reductions += 1
      base.allReduceSum(&buffer)
    }

    func allGather(_ local: [Float]) -> [Float] { base.allGather(local) }
    func allGather(_ local: [UInt8]) -> [UInt8] { base.allGather(local) }
  }
#endif
