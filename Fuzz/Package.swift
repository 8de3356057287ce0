// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for Landscape's readers; scripts/fuzz.sh builds them with
// -sanitize=fuzzer,address and runs them. Each harness's main hands its input callback to
// libFuzzer's driver (CFuzzer declares it).
let dependencies: [Target.Dependency] = ["CFuzzer", .product(name: "Landscape", package: "Landscape")]
// gold fails on the sanitized objects' debug information; lld links them.
let link: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

let package = Package(
    name: "LandscapeFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "Landscape", path: "..")],
    targets: [
        .target(name: "CFuzzer"),
        .executableTarget(name: "FuzzIDX", dependencies: dependencies, linkerSettings: link),
        .executableTarget(name: "FuzzSafeTensors", dependencies: dependencies, linkerSettings: link),
        .executableTarget(name: "FuzzConfiguration", dependencies: dependencies, linkerSettings: link),
    ]
)
