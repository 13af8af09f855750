// libFuzzer target for a pool's manifest and tile cache; what an input exercises is `Exercise.pool`.

import FuzzDriver
import FuzzEntryPoints

fuzz {
  let outcome = Exercise.pool($0, name: "fuzz-input")
  return [outcome.manifest, outcome.tileCache]
}
