import CMPI
import Fingerprint
import Foundation

/// The ranks of `MPI_COMM_WORLD` as a ``ProcessGroup``: `MPI_Allreduce` (sum) and `MPI_Allgather` over
/// Float32 buffers, called from the thread that created the group (MPI_THREAD_FUNNELED: the engine's
/// other threads never call MPI). Errors keep MPI's default handler on the world communicator,
/// `MPI_ERRORS_ARE_FATAL`: a failed collective, or a rank that died, ends the whole job instead of
/// leaving the others waiting.
public final class MPIProcessGroup: ProcessGroup {
  public let rank: Int
  public let size: Int
  private let world = cmpi_comm_world()

  /// Initialises MPI (once per process) and joins the world communicator.
  ///
  /// - Throws: ``MPITrainingError`` when the library cannot give the thread support the engine needs.
  public init() throws {
    var provided: Int32 = 0
    MPI_Init_thread(nil, nil, Int32(cmpi_thread_funneled()), &provided)
    guard provided >= cmpi_thread_funneled() else {
      MPI_Finalize()
      throw MPITrainingError.threadSupport(provided: Int(provided))
    }
    var r: Int32 = 0
    var n: Int32 = 0
    MPI_Comm_rank(world, &r)
    MPI_Comm_size(world, &n)
    rank = Int(r)
    size = Int(n)
  }

  public func allReduceSum(_ buffer: inout [Float]) {
    precondition(buffer.count <= Int(Int32.max), "allReduceSum: \(buffer.count) floats exceed MPI's count")
    let count = Int32(buffer.count)
    buffer.withUnsafeMutableBufferPointer { b in
      _ = MPI_Allreduce(cmpi_in_place(), b.baseAddress, count, cmpi_float(), cmpi_sum(), world)
    }
  }

  public func allGather(_ local: [Float]) -> [Float] { gather(local, cmpi_float()) }

  public func allGather(_ local: [UInt8]) -> [UInt8] { gather(local, cmpi_byte()) }

  /// `MPI_Allgather` of equal-length buffers of `type`'s elements.
  private func gather<T: Numeric>(_ local: [T], _ type: MPI_Datatype) -> [T] {
    precondition(local.count * size <= Int(Int32.max), "allGather: \(local.count) elements × \(size) ranks")
    var all = [T](repeating: 0, count: local.count * size)
    local.withUnsafeBufferPointer { l in
      all.withUnsafeMutableBufferPointer { a in
        _ = MPI_Allgather(l.baseAddress, Int32(local.count), type, a.baseAddress, Int32(local.count), type, world)
      }
    }
    return all
  }

  /// Ends the whole job: every rank stops, and the launcher exits with `code`.
  public func abort(_ code: Int32) -> Never {
    MPI_Abort(world, code)
    exit(code)
  }

  /// Leaves MPI; every rank calls it once at the end of a job that finished.
  public func finish() { MPI_Finalize() }
}

/// Why MPI training could not start.
public enum MPITrainingError: Error, CustomStringConvertible {
  case threadSupport(provided: Int)

  public var description: String {
    switch self {
    case .threadSupport(let p):
      return "the MPI library gives thread support level \(p), below MPI_THREAD_FUNNELED; "
        + "use an MPI built with thread support (Debian's Open MPI has it)"
    }
  }
}
