import Tensors
/// One split (train, validation or test) of a labelled image data set, held
/// in memory as the files hold it: one byte per pixel.
///
/// - `pixels`: `count × featureCount` bytes, row-major (sample-major; for
///   MNIST each row is a 28×28 image in row-major pixel order). The value of
///   a pixel is byte / 255 computed in the precision asked for
///   (``pixelValue(_:as:)``); ``images(as:)`` and ``images(rows:as:)`` give
///   the values as `Float` or `Double` tensors.
/// - `labels`: `count` class indices.
/// - `sourceIndices`: for each sample, its index in the file it was loaded
///   from (provenance; lets callers check that splits are disjoint).
public struct DatasetSplit: Sendable {
    /// A short name for messages and metadata, e.g. "MNIST train".
    public let name: String
    /// `count × featureCount` pixel bytes, row-major.
    public let pixels: [UInt8]
    /// `count` class labels, each in `0..<classCount` of the data set.
    public let labels: [Int]
    /// The number of values per sample (784 for MNIST: 28 × 28 pixels).
    public let featureCount: Int
    /// For each sample, its index in the original source file.
    public let sourceIndices: [Int]

    /// The number of samples.
    public var count: Int { labels.count }

    /// Creates a split. Requires `pixels.count == labels.count * featureCount`
    /// and `sourceIndices.count == labels.count` (preconditions).
    /// - Parameter sourceIndices: defaults to `0..<labels.count`.
    public init(name: String, pixels: [UInt8], labels: [Int], featureCount: Int, sourceIndices: [Int]? = nil) {
        precondition(featureCount > 0, "featureCount must be positive")
        precondition(pixels.count == labels.count * featureCount,
                     "\(name): \(pixels.count) pixels for \(labels.count) labels × \(featureCount) features")
        let indices = sourceIndices ?? Array(0..<labels.count)
        precondition(indices.count == labels.count, "\(name): sourceIndices must have one entry per sample")
        self.name = name
        self.pixels = pixels
        self.labels = labels
        self.featureCount = featureCount
        self.sourceIndices = indices
    }

    /// The value of a pixel byte in precision `E`: `E(byte) / 255`, one correctly rounded
    /// division in `E` (so a `Double` value is not a rounded `Float` one).
    @inlinable
    public static func pixelValue<E: TensorScalar>(_ byte: UInt8, as _: E.Type) -> E {
        E(byte) / 255
    }

    /// Every sample's pixel values (``pixelValue(_:as:)``), shape `[count, featureCount]`.
    @inlinable
    public func images<E: TensorScalar>(as type: E.Type) -> Tensor<E> {
        images(rows: 0..<count, as: type)
    }

    /// The pixel values (``pixelValue(_:as:)``) of the samples at `rows`, in that order
    /// (repeats allowed): shape `[rows.count, featureCount]`. A range gives consecutive
    /// samples, an array of positions a gathered mini-batch. Positions must be in
    /// `0..<count` (precondition).
    @inlinable
    public func images<E: TensorScalar, C: Collection>(rows: C, as _: E.Type) -> Tensor<E> where C.Element == Int {
        pixelValues(pixels, featureCount: featureCount, rows: rows, name: name)
    }

    /// The `featureCount` pixel bytes of sample `index` (0-based position in this split).
    public func image(at index: Int) -> ArraySlice<UInt8> {
        pixels[(index * featureCount)..<((index + 1) * featureCount)]
    }

    /// The samples at the given positions, in that order (a gathered copy of their bytes).
    /// Positions must be in `0..<count` (precondition).
    public func gather<C: Collection>(_ positions: C) -> Batch where C.Element == Int {
        let n = positions.count
        let f = featureCount
        var labelsOut = [Int]()
        labelsOut.reserveCapacity(n)
        let pixelsOut = [UInt8](unsafeUninitializedCapacity: n * f) { dst, initialized in
            pixels.withUnsafeBufferPointer { src in
                var row = 0
                for p in positions {
                    precondition(p >= 0 && p < count, "\(name): sample index \(p) out of range 0..<\(count)")
                    (dst.baseAddress! + row * f).initialize(from: src.baseAddress! + p * f, count: f)
                    labelsOut.append(labels[p])
                    row += 1
                }
            }
            initialized = n * f
        }
        return Batch(pixels: pixelsOut, labels: labelsOut, indices: Array(positions), featureCount: f)
    }

    /// A new split made of the samples at `positions`, in that order.
    public func subset<C: Collection>(_ positions: C, name: String? = nil) -> DatasetSplit where C.Element == Int {
        let batch = gather(positions)
        let sources = positions.map { sourceIndices[$0] }
        return DatasetSplit(name: name ?? self.name, pixels: batch.pixels, labels: batch.labels,
                            featureCount: featureCount, sourceIndices: sources)
    }

    /// The first `k` samples (all of them if `k >= count`), for quick runs.
    /// Loaders store splits in shuffled order, so this is a random subset.
    public func prefix(_ k: Int) -> DatasetSplit {
        precondition(k >= 0, "subset size must be non-negative")
        return k >= count ? self : subset(0..<k)
    }

    /// The same samples in a seeded random order (reproducible for a seed).
    public func shuffled(seed: UInt64) -> DatasetSplit {
        var rng = SplitMix64(seed: seed)
        return subset(rng.permutation(of: count))
    }

    /// The sample order for one epoch: a permutation of `0..<count` that
    /// depends only on (`seed`, `epoch`), different for each epoch.
    public func epochOrder(seed: UInt64, epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: SplitMix64.derivedSeed(seed, stream: UInt64(bitPattern: Int64(epoch))))
        return rng.permutation(of: count)
    }

    /// The number of mini-batches per epoch for a batch size.
    public func batchCount(size: Int, dropLast: Bool = false) -> Int {
        precondition(size > 0, "batch size must be positive")
        return dropLast ? count / size : (count + size - 1) / size
    }

    /// Mini-batches of sample positions for one epoch.
    ///
    /// - Parameters:
    ///   - size: samples per batch (> 0).
    ///   - seed: shuffle seed; `nil` keeps the stored order (for evaluation).
    ///   - epoch: the epoch number; with a seed each epoch gets its own order.
    ///   - dropLast: drop a final batch smaller than `size`.
    /// - Returns: batches of positions in `0..<count`; each position appears
    ///   exactly once per epoch (unless dropped by `dropLast`).
    public func batchIndices(size: Int, seed: UInt64? = nil, epoch: Int = 0, dropLast: Bool = false) -> [[Int]] {
        precondition(size > 0, "batch size must be positive")
        let order = seed.map { epochOrder(seed: $0, epoch: epoch) } ?? Array(0..<count)
        var result = [[Int]]()
        result.reserveCapacity(batchCount(size: size, dropLast: dropLast))
        var start = 0
        while start < count {
            let end = min(start + size, count)
            if dropLast && end - start < size { break }
            result.append(Array(order[start..<end]))
            start = end
        }
        return result
    }

    /// Mini-batches of gathered samples for one epoch, gathered lazily as the
    /// sequence is iterated; parameters as ``batchIndices(size:seed:epoch:dropLast:)``.
    public func batches(size: Int, seed: UInt64? = nil, epoch: Int = 0, dropLast: Bool = false) -> BatchSequence {
        BatchSequence(split: self, batches: batchIndices(size: size, seed: seed, epoch: epoch, dropLast: dropLast))
    }
}

/// A gathered mini-batch: `count × featureCount` pixel bytes and `count` labels.
public struct Batch: Sendable {
    /// `count × featureCount` pixel bytes, row-major.
    public let pixels: [UInt8]
    /// `count` class labels.
    public let labels: [Int]
    /// The positions of these samples within their split.
    public let indices: [Int]
    /// Values per sample (784 for MNIST).
    public let featureCount: Int
    /// The number of samples in the batch.
    public var count: Int { labels.count }

    /// The pixel values (``DatasetSplit/pixelValue(_:as:)``), shape `[count, featureCount]`.
    @inlinable
    public func images<E: TensorScalar>(as _: E.Type) -> Tensor<E> {
        pixelValues(pixels, featureCount: featureCount, rows: 0..<count, name: "batch")
    }
}

/// Rows `rows` of `pixels` (`featureCount` bytes each) as pixel values: the one place bytes
/// become numbers.
@inlinable
func pixelValues<E: TensorScalar, C: Collection>(_ pixels: [UInt8], featureCount f: Int, rows: C, name: String) -> Tensor<E>
where C.Element == Int {
    let available = pixels.count / f
    return Tensor(shape: [rows.count, f]) { out, _ in
        pixels.withUnsafeBufferPointer { src in
            var dst = out
            for p in rows {
                precondition(p >= 0 && p < available, "\(name): sample index \(p) out of range 0..<\(available)")
                let row = src.baseAddress! + p * f
                for j in 0..<f { dst[j] = DatasetSplit.pixelValue(row[j], as: E.self) }
                dst += f
            }
        }
    }
}

/// The mini-batches of one epoch; each element is gathered when reached.
public struct BatchSequence: Sequence, Sendable {
    /// The split the batches are drawn from.
    public let split: DatasetSplit
    /// The positions in each batch, in iteration order.
    public let batches: [[Int]]

    /// An iterator that gathers one batch per `next()`.
    public struct Iterator: IteratorProtocol, Sendable {
        let split: DatasetSplit
        let batches: [[Int]]
        var position = 0
        /// The next gathered batch, or `nil` at the end of the epoch.
        public mutating func next() -> Batch? {
            guard position < batches.count else { return nil }
            defer { position += 1 }
            return split.gather(batches[position])
        }
    }

    /// Starts iterating from the first batch.
    public func makeIterator() -> Iterator {
        Iterator(split: split, batches: batches)
    }

    /// The number of batches.
    public var underestimatedCount: Int { batches.count }
}
