// swift-tools-version:6.0
import PackageDescription

/// Release builds target AVX2 (`-target-cpu haswell`): the default SSE2 code generation is far slower on
/// the SIMD kernels. Debug builds keep the default so that tests build quickly.
let fastMath: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))
]

let package = Package(
  name: "ModelPrint",
  products: [
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Synthesis", targets: ["Synthesis"]),
    .executable(name: "modelprint-bench", targets: ["Benchmarks"]),
  ],
  targets: [
    .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
    .target(
      name: "Tensor", dependencies: ["CDNNL", "COpenBLAS"], exclude: ["README.md"],
      swiftSettings: fastMath),
    .target(name: "NN", dependencies: ["Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(name: "Synthesis", dependencies: ["NN", "Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .executableTarget(
      name: "Benchmarks", dependencies: ["Tensor", "NN", "Synthesis"], exclude: ["README.md"],
      swiftSettings: fastMath),
    .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
    .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "Synthesis"]),
  ],
  swiftLanguageModes: [.v5]
)
