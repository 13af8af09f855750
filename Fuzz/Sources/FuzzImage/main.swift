// libFuzzer target for the image readers; what an input exercises is `Exercise.image`.

import FuzzDriver
import FuzzEntryPoints
import Imaging

/// A lower pixel limit than the default keeps each run's allocations small; the guard is the same code.
let decoder = ImageDecoder(maxPixels: 1 << 22)

fuzz { [Exercise.image($0, name: "fuzz-input", decoder: decoder)] }
