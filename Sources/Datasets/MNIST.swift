import Tensors
import Foundation

/// The four files of an MNIST-format data set (MNIST: LeCun, Cortes &
/// Burges; Fashion-MNIST: Xiao, Rasul & Vollgraf 2017, same layout).
public enum MNISTFile: String, CaseIterable, Sendable {
    /// Training images, IDX 3-D (N × 28 × 28) unsigned bytes.
    case trainImages = "train-images-idx3-ubyte"
    /// Training labels, IDX 1-D (N) unsigned bytes.
    case trainLabels = "train-labels-idx1-ubyte"
    /// Test images, IDX 3-D (N × 28 × 28) unsigned bytes.
    case testImages = "t10k-images-idx3-ubyte"
    /// Test labels, IDX 1-D (N) unsigned bytes.
    case testLabels = "t10k-labels-idx1-ubyte"

    /// The canonical (gzip) file name, e.g. "train-images-idx3-ubyte.gz".
    public var gzipName: String { rawValue + ".gz" }
    /// The uncompressed file name, e.g. "train-images-idx3-ubyte".
    public var rawName: String { rawValue }
    /// The number of IDX dimensions: 3 for images, 1 for labels.
    public var dimensionCount: Int { isImages ? 3 : 1 }
    /// Whether the file holds images (otherwise labels).
    public var isImages: Bool { self == .trainImages || self == .testImages }

    /// The shape of the file in MNIST and Fashion-MNIST (LeCun's description; Xiao, Rasul &
    /// Vollgraf 2017): 60,000 training and 10,000 test samples, images of 28 × 28.
    public var canonicalShape: [Int] {
        switch self {
        case .trainImages: return [60_000, 28, 28]
        case .trainLabels: return [60_000]
        case .testImages: return [10_000, 28, 28]
        case .testLabels: return [10_000]
        }
    }

    /// The most data the file may declare: that of its ``canonicalShape`` (47,040,000 bytes of
    /// training images), so a header declaring more samples is refused before any is read.
    public var bound: IDX.Bound {
        let what = switch self {
        case .trainImages: "training-images"
        case .trainLabels: "training-labels"
        case .testImages: "test-images"
        case .testLabels: "test-labels"
        }
        return IDX.Bound(bytes: canonicalShape.reduce(1, *),
                         reason: "an MNIST-format \(what) file holds at most \(canonicalShape.map(String.init).joined(separator: "×"))")
    }

    /// The file in `directory`: the `.gz` name if it exists, else the
    /// uncompressed name.
    /// - Throws: `DatasetError.missingDatasetFile` listing both paths tried.
    public func locate(in directory: URL) throws -> URL {
        let gz = directory.appendingPathComponent(gzipName)
        if FileIO.isFile(gz) { return gz }
        let raw = directory.appendingPathComponent(rawName)
        if FileIO.isFile(raw) { return raw }
        throw DatasetError.missingDatasetFile(tried: [gz.path, raw.path])
    }
}

/// MNIST (or Fashion-MNIST) loaded from IDX files into train / validation /
/// test splits of pixel bytes (``DatasetSplit``: values byte / 255 in the precision asked for).
///
/// The validation split is held out from the 60,000 training images: a
/// permutation of the training set drawn from `SplitMix64(seed: splitSeed)`;
/// its first `validationCount` entries form the validation split and the rest
/// the training split (both stored in that permuted order). Same files and
/// seed give the same splits on every machine.
public struct MNISTDataset: Sendable {
    /// Image height in pixels.
    public static let imageHeight = 28
    /// Image width in pixels.
    public static let imageWidth = 28
    /// Values per sample: 28 × 28 = 784.
    public static let featureCount = 784
    /// Number of classes (digits 0–9; for Fashion-MNIST ten clothing classes).
    public static let classCount = 10
    /// Default number of training images held out for validation (5,000 →
    /// 55,000 train / 5,000 validation).
    public static let defaultValidationCount = 5_000
    /// Default seed of the train/validation permutation.
    public static let defaultSplitSeed: UInt64 = 0
    /// Where `apt-get install dataset-fashion-mnist` puts Fashion-MNIST.
    public static let defaultFashionMNISTDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    /// Fashion-MNIST class names, by label (Xiao, Rasul & Vollgraf 2017).
    public static let fashionClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// "MNIST" or "Fashion-MNIST", or as ``MNISTDataset/load(_:mnistFrom:log:)`` names other files,
    /// e.g. "non-canonical MNIST (t10k-labels-idx1-ubyte differs)" (used in split names and metadata).
    public let name: String
    /// The directory the files were read from.
    public let directory: URL
    /// Training split (default 55,000 samples, seeded permuted order).
    public let train: DatasetSplit
    /// Validation split held out of the training file (default 5,000 samples).
    public let validation: DatasetSplit
    /// Test split (10,000 samples in file order, or a seeded subset if `testLimit` is set).
    public let test: DatasetSplit
    /// The seed of the train/validation permutation.
    public let splitSeed: UInt64

    /// Loads the four files from `directory`.
    ///
    /// Each file is found as `<name>.gz` or, failing that, `<name>` (raw);
    /// compression is detected from content. Checks: each file declares at
    /// most MNIST's size (``MNISTFile/bound``: 60,000 training and 10,000 test
    /// samples), images are N×28×28, labels are N with the same N, labels are
    /// in 0...9. Only the image rows the splits use are kept (with
    /// `trainLimit`, the validation and the first `trainLimit` training
    /// samples; with `testLimit`, the test subset).
    ///
    /// - Parameters:
    ///   - directory: the folder with the four files.
    ///   - validationCount: training images held out for validation (0...N).
    ///   - splitSeed: seed of the train/validation permutation.
    ///   - trainLimit: if set, keep only the first `k` training samples of the
    ///     permuted order (a random subset; quick runs and tests). Larger
    ///     values keep everything.
    ///   - testLimit: if set, the test split is the first `k` of a seeded
    ///     permutation of the test file (a random subset); otherwise all test
    ///     samples in file order.
    ///   - name: data set name for messages ("MNIST", "Fashion-MNIST").
    /// - Throws: `DatasetError`, each naming the offending file: missing
    ///   files, IDX/gzip errors (see `IDX.read`), `.wrongShape`,
    ///   `.countMismatch`, `.labelOutOfRange`, `.invalidArgument`.
    public init(directory: URL,
                validationCount: Int = MNISTDataset.defaultValidationCount,
                splitSeed: UInt64 = MNISTDataset.defaultSplitSeed,
                trainLimit: Int? = nil,
                testLimit: Int? = nil,
                name: String = "MNIST") throws {
        guard FileIO.isDirectory(directory) else {
            throw DatasetError.fileNotFound(path: directory.path)
        }
        let trainImagesURL = try MNISTFile.trainImages.locate(in: directory)
        let trainLabelsURL = try MNISTFile.trainLabels.locate(in: directory)
        let testImagesURL = try MNISTFile.testImages.locate(in: directory)
        let testLabelsURL = try MNISTFile.testLabels.locate(in: directory)
        if let trainLimit, trainLimit < 0 {
            throw DatasetError.invalidArgument(path: trainImagesURL.path, reason: "trainLimit \(trainLimit) is negative")
        }
        if let testLimit, testLimit < 0 {
            throw DatasetError.invalidArgument(path: testImagesURL.path, reason: "testLimit \(testLimit) is negative")
        }

        // Labels first: their count fixes the permutation, which fixes the image rows to read.
        let trainLabels = try Self.readLabels(trainLabelsURL, bound: MNISTFile.trainLabels.bound)
        let n = trainLabels.count
        guard validationCount >= 0 && validationCount <= n else {
            throw DatasetError.invalidArgument(
                path: trainImagesURL.path,
                reason: "validation count \(validationCount) is outside 0...\(n) (the training set size)")
        }
        var rng = SplitMix64(seed: splitSeed)
        let permutation = rng.permutation(of: n)
        let validationIndices = Array(permutation[..<validationCount])
        var trainIndices = Array(permutation[validationCount...])
        if let trainLimit, trainLimit < trainIndices.count {
            trainIndices.removeSubrange(trainLimit...)
        }
        let trainPixels = try Self.readImages(trainImagesURL, bound: MNISTFile.trainImages.bound, labels: trainLabelsURL,
                                              count: n, rows: validationIndices + trainIndices)

        let testLabels = try Self.readLabels(testLabelsURL, bound: MNISTFile.testLabels.bound)
        var testIndices = Array(0..<testLabels.count)
        if let testLimit, testLimit < testIndices.count {
            var testRNG = SplitMix64(seed: SplitMix64.derivedSeed(splitSeed, stream: 1))
            testIndices = Array(testRNG.permutation(of: testIndices.count)[..<testLimit])
        }
        let testPixels = try Self.readImages(testImagesURL, bound: MNISTFile.testImages.bound, labels: testLabelsURL,
                                             count: testLabels.count, rows: testIndices)

        let held = validationCount * Self.featureCount
        self.name = name
        self.directory = directory
        self.splitSeed = splitSeed
        self.validation = DatasetSplit(name: "\(name) validation", pixels: Array(trainPixels[..<held]),
                                       labels: validationIndices.map { trainLabels[$0] }, featureCount: Self.featureCount,
                                       sourceIndices: validationIndices)
        self.train = DatasetSplit(name: "\(name) train", pixels: Array(trainPixels[held...]),
                                  labels: trainIndices.map { trainLabels[$0] }, featureCount: Self.featureCount,
                                  sourceIndices: trainIndices)
        self.test = DatasetSplit(name: "\(name) test", pixels: testPixels, labels: testIndices.map { testLabels[$0] },
                                 featureCount: Self.featureCount, sourceIndices: testIndices)
    }

    /// Loads Fashion-MNIST (same file names and format as MNIST).
    ///
    /// - Parameters: as ``init(directory:validationCount:splitSeed:trainLimit:testLimit:name:)``;
    ///   `directory` defaults to `/usr/share/datasets/fashion-mnist`
    ///   (`apt-get install dataset-fashion-mnist`).
    /// - Throws: as the initializer; a missing directory gives `.fileNotFound` naming it.
    public static func fashionMNIST(directory: URL = defaultFashionMNISTDirectory,
                                    validationCount: Int = defaultValidationCount,
                                    splitSeed: UInt64 = defaultSplitSeed,
                                    trainLimit: Int? = nil,
                                    testLimit: Int? = nil) throws -> MNISTDataset {
        try MNISTDataset(directory: directory, validationCount: validationCount, splitSeed: splitSeed,
                         trainLimit: trainLimit, testLimit: testLimit, name: "Fashion-MNIST")
    }

    /// Reads and cross-checks an images file and its labels file, each bounded to the size of
    /// MNIST's training files (``MNISTFile/bound``).
    ///
    /// - Returns: the raw pixel bytes (N × 784, row-major) and the labels (N).
    /// - Throws: IDX errors (see `IDX.read`); `.wrongShape` unless images are
    ///   N×28×28; `.countMismatch` unless there are N labels;
    ///   `.labelOutOfRange` for a label outside 0...9.
    public static func loadPair(images imagesURL: URL, labels labelsURL: URL) throws -> (pixels: [UInt8], labels: [Int]) {
        let labels = try readLabels(labelsURL, bound: MNISTFile.trainLabels.bound)
        let pixels = try readImages(imagesURL, bound: MNISTFile.trainImages.bound, labels: labelsURL, count: labels.count,
                                    rows: nil)
        return (pixels, labels)
    }

    /// The labels in `url`, each checked to be a class (0...9).
    /// - Throws: IDX errors (see `IDX.read`); `.labelOutOfRange` naming the first bad label.
    static func readLabels(_ url: URL, bound: IDX.Bound) throws -> [Int] {
        let tensor = try IDX.read(url, expectedDimensions: 1, bound: bound)
        return try tensor.bytes.withUnsafeBufferPointer { src -> [Int] in
            for (i, v) in src.enumerated() where Int(v) >= classCount {
                throw DatasetError.labelOutOfRange(path: url.path, index: i, value: Int(v), validRange: 0...(classCount - 1))
            }
            return src.map { Int($0) }
        }
    }

    /// The pixel bytes of the images at `rows` (all of them when `nil`) of an N×28×28 images
    /// file whose labels file (`labels`) holds `count` labels; only those rows are kept.
    /// - Throws: IDX errors (see `IDX.read`); `.wrongShape` or `.countMismatch`, before any
    ///   pixel is read.
    static func readImages(_ url: URL, bound: IDX.Bound, labels labelsURL: URL, count: Int, rows: [Int]?) throws -> [UInt8] {
        try IDX.read(url, expectedDimensions: 3, bound: bound) { shape in
            guard shape[1] == imageHeight, shape[2] == imageWidth else {
                throw DatasetError.wrongShape(path: url.path, expected: "N×28×28", found: shape)
            }
            guard shape[0] == count else {
                throw DatasetError.countMismatch(imagesPath: url.path, images: shape[0], labelsPath: labelsURL.path, labels: count)
            }
            return rows ?? Array(0..<count)
        }.bytes
    }
}

extension DatasetKind {
    /// The SHA-256 (lowercase hex) of the decompressed contents (IDX header and data) of the
    /// data set's canonical `file`: MNIST's computed from the original distribution (the files
    /// `MNISTFetcher` verifies), Fashion-MNIST's from Zalando Research's files as Debian's
    /// `dataset-fashion-mnist` installs them.
    public func canonicalSHA256(of file: MNISTFile) -> String {
        switch (self, file) {
        case (.mnist, .trainImages): return "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        case (.mnist, .trainLabels): return "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        case (.mnist, .testImages): return "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        case (.mnist, .testLabels): return "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        case (.fashionMNIST, .trainImages): return "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        case (.fashionMNIST, .trainLabels): return "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        case (.fashionMNIST, .testImages): return "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        case (.fashionMNIST, .testLabels): return "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        }
    }
}

/// What the four files of an MNIST-format directory are: the SHA-256 of each one's decompressed
/// contents, compared with those of the canonical data sets (``DatasetKind/canonicalSHA256(of:)``).
public struct DatasetIdentity: Sendable, Equatable {
    /// The SHA-256 (lowercase hex) of each file's decompressed contents; a file longer than its
    /// canonical size (``MNISTFile/canonicalShape``) is not hashed to its end and has none.
    public let digests: [MNISTFile: String]

    /// An identity from the files' digests.
    public init(digests: [MNISTFile: String]) {
        self.digests = digests
    }

    /// The files whose contents are not `kind`'s canonical ones, in ``MNISTFile`` order.
    public func differingFiles(from kind: DatasetKind) -> [MNISTFile] {
        MNISTFile.allCases.filter { digests[$0] != kind.canonicalSHA256(of: $0) }
    }

    /// The canonical data set all four files belong to, or `nil`.
    public var dataset: DatasetKind? {
        DatasetKind.allCases.first { differingFiles(from: $0).isEmpty }
    }

    /// How the files differ from `kind`'s, e.g. "t10k-labels-idx1-ubyte differs" or
    /// "train-images-idx3-ubyte and t10k-images-idx3-ubyte differ"; `nil` when they are `kind`'s.
    public func difference(from kind: DatasetKind) -> String? {
        let names = differingFiles(from: kind).map(\.rawName)
        switch names.count {
        case 0: return nil
        case 1: return "\(names[0]) differs"
        case MNISTFile.allCases.count: return "all four files differ"
        default: return names.dropLast().joined(separator: ", ") + " and \(names.last!) differ"
        }
    }

    /// The name of data read as `kind`: its display name ("MNIST") when all four files are the
    /// canonical ones, else e.g. "non-canonical MNIST (t10k-labels-idx1-ubyte differs)".
    public func name(as kind: DatasetKind) -> String {
        difference(from: kind).map { "non-canonical \(kind.displayName) (\($0))" } ?? kind.displayName
    }

    /// Whether data named `current` (``name(as:)``) are those a run recorded as `recorded`. Runs
    /// made before all four files were identified recorded any data read as a kind under its
    /// display name ("MNIST"), so such a record also matches that kind's non-canonical data.
    public static func recordedName(_ recorded: String, matches current: String) -> Bool {
        recorded == current || (current.hasPrefix("non-canonical \(recorded) (") && DatasetKind.allCases.contains { $0.displayName == recorded })
    }
}

extension MNISTDataset {
    /// Identifies the four files in `directory` by the SHA-256 of their decompressed contents,
    /// streamed (nothing is kept, and hashing stops past a file's canonical size).
    /// - Throws: `DatasetError` if a file is missing, not a regular file, or unreadable.
    public static func identify(directory: URL) throws -> DatasetIdentity {
        var digests: [MNISTFile: String] = [:]
        for file in MNISTFile.allCases {
            let canonicalBytes = 4 + 4 * file.dimensionCount + file.bound.bytes
            digests[file] = try IDX.contentsSHA256(of: try file.locate(in: directory), maxBytes: canonicalBytes)
        }
        return DatasetIdentity(digests: digests)
    }
}
