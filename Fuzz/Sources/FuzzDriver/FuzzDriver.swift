import CFuzzer
import Foundation
import FuzzEntryPoints

/// The body `fuzz(_:)` runs on each input. libFuzzer takes a C function pointer, which cannot capture a
/// closure, so the body waits here; a fuzz target sets it once, before the driver starts.
private var body: (Data) -> [Outcome] = { _ in [] }

/// Runs libFuzzer's driver with the command line's flags, handing every input to `exercise`. An outcome
/// that breaks the readers' contract stops the run as a crash, so libFuzzer saves the input.
public func fuzz(_ exercise: @escaping (Data) -> [Outcome]) -> Never {
  body = exercise
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(
    LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
      let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
      if let bug = body(data).lazy.compactMap(\.bug).first { fatalError(bug) }
      return 0
    })
}
