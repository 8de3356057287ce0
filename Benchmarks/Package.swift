// swift-tools-version: 6.0
import PackageDescription

// Benchmarks of Landscape, in their own package so the library stays dependency-free.
// Run: swift run -c release --package-path Benchmarks landscape-benchmarks
let package = Package(
    name: "LandscapeBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "Landscape", path: "..")],
    targets: [
        .executableTarget(name: "landscape-benchmarks", dependencies: [
            .product(name: "Landscape", package: "Landscape"),
        ], path: "Sources/LandscapeBenchmarks"),
    ],
    swiftLanguageModes: [.v5]
)
