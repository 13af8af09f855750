// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for ModelPrint's file readers, kept out of the main package so that its normal build
/// and tests never need the sanitizer runtime. Build and run them with `scripts/fuzz.sh` (see README.md).
/// What each input exercises is in the main package's FuzzEntryPoints, shared with the regression tests.
/// gold fails on the sanitizer runtime's debug info ("internal error in format_file_lineno"); lld links it.
let link: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

/// A fuzz target: `Sources/<name>/main.swift` on the shared driver and entry points.
func fuzzTarget(_ name: String, _ readers: [String]) -> Target {
  .executableTarget(
    name: name,
    dependencies: ["FuzzDriver", .product(name: "FuzzEntryPoints", package: "ModelPrint")]
      + readers.map { .product(name: $0, package: "ModelPrint") },
    linkerSettings: link)
}

let package = Package(
  name: "ModelPrintFuzz",
  dependencies: [.package(name: "ModelPrint", path: "..")],
  targets: [
    .target(name: "CFuzzer"),
    .target(name: "FuzzDriver", dependencies: ["CFuzzer", .product(name: "FuzzEntryPoints", package: "ModelPrint")]),
    fuzzTarget("FuzzImage", ["Imaging"]),
    fuzzTarget("FuzzSafetensors", []),
    fuzzTarget("FuzzPool", []),
    fuzzTarget("FuzzGallery", []),
  ],
  swiftLanguageModes: [.v5]
)
