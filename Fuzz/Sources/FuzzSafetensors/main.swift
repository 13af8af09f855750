// libFuzzer target for the safetensors reader and the extractor checkpoint loader; what an input
// exercises is `Exercise.safetensors`.

import FuzzDriver
import FuzzEntryPoints

fuzz { [Exercise.safetensors($0, name: "fuzz-input")] }
