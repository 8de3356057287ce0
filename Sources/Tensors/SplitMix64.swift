/// SplitMix64, a small, fast, seeded pseudo-random number generator
/// (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014; constants as in Vigna's reference `splitmix64.c`).
///
/// The sequence depends only on the seed, on every platform and Swift
/// version, so shuffles and splits made with it reproduce exactly. Not
/// suitable for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The internal 64-bit state; advances by the golden-ratio increment per draw.
    public private(set) var state: UInt64

    /// A generator whose sequence is determined by `seed` (any value, 0 included).
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 uniformly distributed bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `0..<bound` (`bound` > 0), by
    /// Lemire's multiply-and-reject method. Unlike the standard library's
    /// `random(in:using:)`, the algorithm is fixed here, so results never
    /// change with the Swift version.
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold {
                product = next().multipliedFullWidth(by: b)
            }
        }
        return Int(product.high)
    }

    /// A uniformly distributed `Float` in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniformly distributed `Double` in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Shuffles `array` in place with the Fisher–Yates algorithm driven by
    /// ``next(below:)`` (a fixed algorithm, reproducible across Swift versions).
    public mutating func shuffle<T>(_ array: inout [T]) {
        shuffleTail(&array, count: array.count)
    }

    /// The first `count` steps of ``shuffle(_:)``'s loop (from the last position down), which fix
    /// the last `count` positions: they then hold a uniform sample without replacement of the
    /// elements, in random order. `count` ≥ the array's length is the whole shuffle.
    mutating func shuffleTail<T>(_ array: inout [T], count: Int) {
        var i = array.count - 1
        let last = Swift.max(array.count - count, 1)
        while i >= last {
            let j = next(below: i + 1)
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }

    /// `count` distinct integers of `0..<n`, drawn uniformly without replacement, in random order:
    /// the last `count` entries after `count` steps of ``shuffle(_:)`` on `0..<n`, so that
    /// `sample(n, from: n)` is ``permutation(of:)``. Costs O(n) (the array) and `count` draws.
    /// - Precondition: 0 ≤ `count` ≤ `n`.
    public mutating func sample(_ count: Int, from n: Int) -> [Int] {
        precondition(count >= 0 && count <= n, "sample: need 0 ≤ count ≤ n, got \(count) of \(n)")
        var order = Array(0..<n)
        shuffleTail(&order, count: count)
        return Array(order[(n - count)...])
    }

    /// A uniformly random permutation of `0..<count`, reproducible from the
    /// generator's state.
    public mutating func permutation(of count: Int) -> [Int] {
        var order = Array(0..<count)
        shuffle(&order)
        return order
    }

    /// A 64-bit seed derived from a base seed and a stream number (for example
    /// an epoch), so that each (seed, stream) pair gives an unrelated sequence.
    public static func derivedSeed(_ seed: UInt64, stream: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g.next()
    }
}
