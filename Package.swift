// swift-tools-version: 6.0
import PackageDescription

// Landscape: second-order automatic differentiation and loss-landscape probes.
// Library targets depend only on the system OpenBLAS (with LAPACK) and zlib;
// the CLI adds swift-argument-parser.
let optimized: [SwiftSetting] = []

let package = Package(
    name: "Landscape",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Landscape", targets: ["Tensors", "Autodiff", "Layers", "Probes", "Optimizers", "Datasets", "Checkpoints", "Training", "Plotting", "Study", "Settings"]),
        .executable(name: "landscape", targets: ["LandscapeCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Settings"),
        // Direct SIMD convolution kernels (generic, AVX2, AVX-512 variants chosen at run time).
        .target(name: "CKernels"),
        .target(name: "Tensors", dependencies: ["CBLAS", "CKernels"], swiftSettings: optimized),
        .target(name: "Autodiff", dependencies: ["Tensors"], swiftSettings: optimized),
        .target(name: "Probes", dependencies: ["Autodiff", "Tensors", "Settings"], swiftSettings: optimized),
        .target(name: "Layers", dependencies: ["Autodiff", "Probes", "Tensors"], swiftSettings: optimized),
        .target(name: "Optimizers", dependencies: ["Tensors"], swiftSettings: optimized),
        .target(name: "Datasets", dependencies: ["CZlib", "Tensors"]),
        .target(name: "Checkpoints", dependencies: ["Autodiff", "Tensors"]),
        .target(name: "Training", dependencies: ["Tensors", "Autodiff", "Layers", "Probes", "Optimizers", "Datasets", "Checkpoints", "Settings"], swiftSettings: optimized),
        .target(name: "Plotting"),
        .target(name: "Study", dependencies: ["Tensors", "Autodiff", "Layers", "Probes", "Datasets", "Checkpoints", "Training", "Plotting", "Settings"], swiftSettings: optimized),
        .executableTarget(name: "LandscapeCLI", dependencies: [
            "Tensors", "Autodiff", "Layers", "Probes", "Optimizers", "Datasets", "Checkpoints", "Training", "Plotting", "Study", "Settings",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimized),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "Tensors"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Autodiff", "Tensors", "Datasets", "Optimizers"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Layers", "Autodiff", "Tensors"]),
        .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "Tensors"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"]),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "StudyTests", dependencies: ["Study", "Training", "Datasets", "Checkpoints", "Layers", "Tensors", "Probes", "Plotting"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Settings", "Datasets", "Checkpoints", "Layers", "Tensors", "Autodiff", "Optimizers"]),
        .testTarget(name: "SnippetTests", dependencies: ["Tensors", "Autodiff", "Layers", "Probes", "Optimizers", "Datasets", "Checkpoints", "Training", "Plotting", "Study"]),
    ]
)

// The documentation (scripts/docs.sh) builds with the swift-docc-plugin; only that script sets
// LANDSCAPE_DOCS=1, so ordinary builds neither resolve nor fetch the plugin.
if Context.environment["LANDSCAPE_DOCS"] == "1" {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
