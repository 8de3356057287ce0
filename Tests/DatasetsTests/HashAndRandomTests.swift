import Tensors
import Testing
@testable import Datasets

@Suite("SHA-256 and SplitMix64")
struct HashAndRandomTests {
    @Test("SHA-256 standard test vectors (FIPS 180-4 examples)", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func vectors(message: String, digest: String) {
        #expect(SHA256.hexDigest(of: message) == digest)
    }

    @Test("SHA-256 of one million 'a'")
    func millionA() {
        #expect(SHA256.hexDigest(of: [UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("incremental SHA-256 in odd-sized pieces equals one-shot")
    func incremental() {
        let data = randomBytes(10_000, seed: 99)
        var hasher = SHA256()
        var offset = 0
        var rng = SplitMix64(seed: 1)
        while offset < data.count {
            let n = min(rng.next(below: 130), data.count - offset)
            hasher.update(Array(data[offset..<(offset + n)]))
            offset += n
        }
        #expect(hasher.finalize() == SHA256.hash(data))
        // Lengths around the 55/56/64-byte padding boundaries differ from each other.
        let digests = Set((50...70).map { SHA256.hexDigest(of: [UInt8](repeating: 7, count: $0)) })
        #expect(digests.count == 21)
    }

    @Test("SplitMix64 matches the reference implementation")
    func splitMixReference() {
        var g = SplitMix64(seed: 1_234_567)
        let first = (0..<5).map { _ in g.next() }
        #expect(first == [6457827717110365317, 3203168211198807973, 9817491932198370423,
                          4593380528125082431, 16408922859458223821])
        var z = SplitMix64(seed: 0)
        #expect(z.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test("bounded draws are in range and roughly uniform; permutations are permutations")
    func boundedAndPermutation() {
        var g = SplitMix64(seed: 2024)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 {
            let v = g.next(below: 10)
            counts[v] += 1
        }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "counts \(counts)")
        let p = g.permutation(of: 1000)
        #expect(Set(p).count == 1000)
        #expect(p.min() == 0 && p.max() == 999)
        #expect(p != Array(0..<1000))
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        #expect(a.permutation(of: 100) == b.permutation(of: 100))
        let u = (0..<1000).map { _ in g.nextUnitFloat() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}
