// swift-tools-version:6.0
import Foundation
import PackageDescription

/// `MODELPRINT_MPI=1` adds data-parallel training over MPI (`modelprint train` under `mpirun`): the CMPI
/// system library (Open MPI, `libopenmpi-dev`), the MPITraining target and a `MODELPRINT_MPI` define in
/// `modelprint`. Off by default, so that building and testing never need MPI; on, it reuses the same
/// `.build` and recompiles only `modelprint` and what depends on it (Sources/MPITraining/README.md).
let mpi = ProcessInfo.processInfo.environment["MODELPRINT_MPI"] == "1"

/// Release builds target AVX2 (`-target-cpu haswell`): the default SSE2 code generation is far slower on
/// the SIMD kernels. Debug builds keep the default so that tests build quickly.
let fastMath: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))
]

let package = Package(
  name: "ModelPrint",
  products: [
    .executable(name: "modelprint", targets: ["modelprint"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Synthesis", targets: ["Synthesis"]),
    // Imaging, Fingerprint, Attribution and FuzzEntryPoints are products for the fuzz targets in Fuzz/, a
    // separate package.
    .library(name: "Imaging", targets: ["Imaging"]),
    .library(name: "Fingerprint", targets: ["Fingerprint"]),
    .library(name: "Attribution", targets: ["Attribution"]),
    .library(name: "FuzzEntryPoints", targets: ["FuzzEntryPoints"]),
    .executable(name: "modelprint-bench", targets: ["Benchmarks"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
  ],
  targets: [
    .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
    .systemLibrary(name: "CImageCodecs", path: "Sources/CImageCodecs"),
    .systemLibrary(name: "CFFT", path: "Sources/CFFT"),
    .target(
      name: "Tensor", dependencies: ["CDNNL", "COpenBLAS"], exclude: ["README.md"],
      swiftSettings: fastMath),
    .target(name: "NN", dependencies: ["Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Imaging", dependencies: ["CImageCodecs", "Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Spectral", dependencies: ["CFFT", "COpenBLAS", "Tensor", "NN", "Imaging"], exclude: ["README.md"],
      swiftSettings: fastMath),
    .target(name: "Reports", dependencies: ["Imaging", "Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Synthesis", dependencies: ["NN", "Tensor", "Imaging"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Evaluation", dependencies: ["COpenBLAS", "Tensor"], exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Fingerprint", dependencies: ["NN", "Tensor", "Imaging", "Spectral", "Synthesis", "Evaluation"],
      exclude: ["README.md"], swiftSettings: fastMath),
    .target(
      name: "Attribution",
      dependencies: [
        "COpenBLAS", "Tensor", "Imaging", "Spectral", "Evaluation", "Fingerprint", "Reports",
        .product(name: "GRDB", package: "GRDB.swift"),
      ], exclude: ["README.md"], swiftSettings: fastMath),
    // The HTTP service (`modelprint serve`): routes, inference workers with micro-batching, the web page.
    .target(
      name: "Service",
      dependencies: [
        "Tensor", "Imaging", "Spectral", "Fingerprint", "Attribution", "Reports",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ], exclude: ["README.md"], swiftSettings: fastMath),
    // What a fuzz input exercises in each reader, shared by Fuzz/ and the fuzz regression tests.
    .target(
      name: "FuzzEntryPoints", dependencies: ["Imaging", "NN", "Synthesis", "Fingerprint", "Attribution"],
      exclude: ["README.md"]),
    .executableTarget(
      name: "Benchmarks", dependencies: ["Tensor", "NN", "Synthesis", "Spectral", "Fingerprint"],
      exclude: ["README.md"],
      swiftSettings: fastMath),
    .executableTarget(
      name: "modelprint",
      dependencies: [
        "Tensor", "NN", "Imaging", "Spectral", "Synthesis", "Evaluation", "Fingerprint", "Attribution", "Reports",
        "Service", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ] + (mpi ? ["MPITraining"] : []), exclude: ["README.md"],
      swiftSettings: fastMath + (mpi ? [.define("MODELPRINT_MPI")] : [])),
    .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
    .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Tensor", "NN", "FuzzEntryPoints"]),
    .testTarget(name: "ReportsTests", dependencies: ["Reports", "Imaging"]),
    .testTarget(name: "SpectralTests", dependencies: ["Spectral", "Imaging", "Tensor", "NN"]),
    .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "Synthesis", "FuzzEntryPoints"]),
    .testTarget(
      name: "FingerprintTests",
      dependencies: ["Fingerprint", "Evaluation", "Synthesis", "NN", "Tensor", "Imaging", "FuzzEntryPoints"]),
    .testTarget(
      name: "AttributionTests",
      dependencies: ["Attribution", "Evaluation", "Fingerprint", "Imaging", "NN", "Tensor", "FuzzEntryPoints"]),
    .testTarget(
      name: "ServiceTests",
      dependencies: [
        "Service", "Attribution", "Fingerprint", "Imaging", "NN", "Tensor",
        .product(name: "HummingbirdTesting", package: "hummingbird"),
      ]),
    .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "NN", "Tensor", "Imaging", "FuzzEntryPoints"]),
    // Runs the built `modelprint` binary as a subprocess; the dependency makes SwiftPM build it first.
    .testTarget(
      name: "ModelPrintCLITests", dependencies: ["modelprint", "Fingerprint", "NN", "Tensor", "Imaging"],
      exclude: ["Golden", "README.md"]),
  ],
  swiftLanguageModes: [.v5]
)

if mpi {
  package.targets += [
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi"),
    .target(name: "MPITraining", dependencies: ["CMPI", "Fingerprint"], exclude: ["README.md"]),
  ]
}
