import Foundation

/// The data sets this package reads, by name: the one list of data-set names.
public enum DatasetKind: String, CaseIterable, Codable, Sendable {
    /// LeCun et al.'s handwritten digits (fetched into the data directory when missing).
    case mnist
    /// Zalando's Fashion-MNIST, the same format (Debian's dataset-fashion-mnist, or the data directory).
    case fashionMNIST = "fashion-mnist"

    /// The name in messages and reports ("MNIST", "Fashion-MNIST"; ``MNISTDataset/name``).
    public var displayName: String {
        switch self {
        case .mnist: return "MNIST"
        case .fashionMNIST: return "Fashion-MNIST"
        }
    }

    /// Where the files are when no directory is given: `data/mnist` (relative to the current
    /// directory; fetched there if missing) or Debian's `/usr/share/datasets/fashion-mnist`.
    public var defaultDirectory: String {
        switch self {
        case .mnist: return "data/mnist"
        case .fashionMNIST: return MNISTDataset.defaultFashionMNISTDirectory.path
        }
    }
}

/// Which data a run trains on: the data set, its directory and the splits' sizes (in samples).
public struct DataSettings: Codable, Equatable, Sendable {
    /// The data set.
    public var dataset: DatasetKind = .mnist
    /// The directory with the four IDX files (`nil`: ``DatasetKind/defaultDirectory``).
    public var dataDirectory: String? = nil
    /// Training samples held out for validation (of the 60,000).
    public var validation: Int = MNISTDataset.defaultValidationCount
    /// Use only this many training samples (a seeded random subset); `nil` = all.
    public var trainLimit: Int? = nil
    /// Use only this many test samples (a seeded random subset); `nil` = all.
    public var testLimit: Int? = nil

    /// The defaults: all of MNIST in data/mnist with 5,000 samples held out.
    public init() {}

    /// The directory the files are read from, as an absolute path.
    public var resolvedDirectory: String {
        URL(fileURLWithPath: dataDirectory ?? dataset.defaultDirectory).standardizedFileURL.path
    }

    /// The problem with these settings beyond each number's limits (key and words), or `nil`. The
    /// limits (`validation`, `trainLimit`, `testLimit`) are declared with the keys
    /// (`DataSettings.keys` in Training) and checked from there.
    public var problem: (key: String, problem: String)? {
        if let dataDirectory, dataDirectory.isEmpty { return ("dataDirectory", "must not be empty") }
        return nil
    }
}

extension MNISTDataset {
    /// Loads the data set the settings name. MNIST is fetched into its directory when the files
    /// are missing (from `mnistFrom`, a local copy, else as `MNISTFetcher.fetch(into:localCopy:log:)`
    /// says); Fashion-MNIST must be present. The four files are identified by their digests
    /// (``identify(directory:)``): a directory that holds the other canonical data set is refused;
    /// files of which any differs from the data set's are used with a note to `log` saying which,
    /// under a name that says so (``DatasetIdentity/name(as:)``, e.g. "non-canonical MNIST
    /// (t10k-labels-idx1-ubyte differs)"), which run records and reports then carry.
    /// - Throws: ``DatasetError`` naming the directory or file.
    public static func load(_ settings: DataSettings, mnistFrom: URL? = nil, log: (String) -> Void) throws -> MNISTDataset {
        let kind = settings.dataset
        let dir = URL(fileURLWithPath: settings.resolvedDirectory)
        switch kind {
        case .fashionMNIST:
            guard FileManager.default.fileExists(atPath: dir.path) else {
                throw DatasetError.fileNotFound(path: "\(dir.path) (Fashion-MNIST: install it with `apt-get install dataset-fashion-mnist` or pass its directory)")
            }
        case .mnist:
            let present = MNISTFile.allCases.allSatisfy { (try? $0.locate(in: dir)) != nil }
            if !present {
                log("MNIST not found in \(dir.path); fetching it")
                let source = try MNISTFetcher.fetch(into: dir, localCopy: mnistFrom, log: log)
                log("MNIST \(source)")
            }
        }
        let identity = try identify(directory: dir)
        if let other = identity.dataset, other != kind {
            throw DatasetError.invalidArgument(path: dir.path, reason: "the files are \(other.displayName), not \(kind.displayName); use the data set \(other.rawValue) or another directory")
        }
        if let difference = identity.difference(from: kind) {
            log("note: the files in \(dir.path) are not the canonical \(kind.displayName): \(difference) (SHA-256 of the decompressed contents); using them as \(identity.name(as: kind))")
        }
        return try MNISTDataset(directory: dir, validationCount: settings.validation, trainLimit: settings.trainLimit,
                                testLimit: settings.testLimit, name: identity.name(as: kind))
    }
}
