import Foundation

extension RandomNumberGenerator {
    /// A uniform `Double` in [0, 1) with 53 random bits (a fixed algorithm, reproducible across Swift versions).
    @inlinable
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample by the Box–Muller transform (Box & Muller 1958).
    @inlinable
    public mutating func nextStandardNormal() -> Double {
        let u1 = 1.0 - nextUnitInterval()   // (0, 1]
        let u2 = nextUnitInterval()
        return (-2.0 * Foundation.log(u1)).squareRoot() * Foundation.cos(2.0 * Double.pi * u2)
    }

    /// A Rademacher sample: ±1 with equal probability.
    @inlinable
    public mutating func nextRademacher() -> Double { (next() >> 63) == 0 ? -1 : 1 }
}

extension Tensor {
    /// Independent uniform samples in `[-bound, bound)`, drawn in row-major order.
    public static func randomUniform<G: RandomNumberGenerator>(_ shape: [Int], bound: Double, using rng: inout G) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Element]()
        s.reserveCapacity(n)
        let upper = Element(bound)
        for _ in 0..<n {
            // Rounding to Float can reach +bound; redraw so the interval stays half-open.
            var x: Element
            repeat { x = Element((2 * rng.nextUnitInterval() - 1) * bound) } while x >= upper && bound > 0
            s.append(x)
        }
        return Tensor(shape: shape, scalars: s)
    }

    /// Independent standard normal samples, drawn in row-major order.
    public static func randomNormal<G: RandomNumberGenerator>(_ shape: [Int], using rng: inout G) -> Tensor {
        sampled(shape, using: &rng) { $0.nextStandardNormal() }
    }

    /// Independent Rademacher (±1) samples, drawn in row-major order.
    public static func randomRademacher<G: RandomNumberGenerator>(_ shape: [Int], using rng: inout G) -> Tensor {
        sampled(shape, using: &rng) { $0.nextRademacher() }
    }

    /// A tensor whose elements are drawn one by one in row-major order.
    static func sampled<G: RandomNumberGenerator>(_ shape: [Int], using rng: inout G, _ draw: (inout G) -> Double) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Element]()
        s.reserveCapacity(n)
        for _ in 0..<n { s.append(Element(draw(&rng))) }
        return Tensor(shape: shape, scalars: s)
    }

    /// `self / ‖self‖₂`. - Precondition: nonzero norm.
    public func normalized() -> Tensor {
        let n = norm()
        precondition(n > 0, "normalized: zero vector")
        return affine(scale: Element(1 / n), shift: 0)
    }
}
