// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for ModelPrint's file readers, kept out of the main package so that its normal build
/// and tests never need the sanitizer runtime. Build and run them with `scripts/fuzz.sh` (see README.md).
/// gold fails on the sanitizer runtime's debug info ("internal error in format_file_lineno"); lld links it.
let link: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

let package = Package(
  name: "ModelPrintFuzz",
  dependencies: [.package(name: "ModelPrint", path: "..")],
  targets: [
    .target(name: "CFuzzer"),
    .executableTarget(
      name: "FuzzImage", dependencies: ["CFuzzer", .product(name: "Imaging", package: "ModelPrint")],
      linkerSettings: link),
    .executableTarget(
      name: "FuzzSafetensors",
      dependencies: [
        "CFuzzer", .product(name: "NN", package: "ModelPrint"), .product(name: "Fingerprint", package: "ModelPrint"),
      ], linkerSettings: link),
    .executableTarget(
      name: "FuzzPool", dependencies: ["CFuzzer", .product(name: "Synthesis", package: "ModelPrint")],
      linkerSettings: link),
    .executableTarget(
      name: "FuzzGallery", dependencies: ["CFuzzer", .product(name: "Attribution", package: "ModelPrint")],
      linkerSettings: link),
  ],
  swiftLanguageModes: [.v5]
)
