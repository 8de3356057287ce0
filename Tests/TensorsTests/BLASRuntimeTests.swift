import Tensors
import Testing

@Suite("BLASRuntime")
struct BLASRuntimeTests {
    static let avx512: Set<String> = ["fpu", "sse2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    @Test("a full AVX-512 flag set recommends SkylakeX")
    func skylakeX() {
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: Self.avx512) == "SkylakeX")
        // The AVX-512 subsets alone suffice.
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) == "SkylakeX")
    }

    @Test("AVX2 and FMA without full AVX-512 recommends Haswell")
    func haswell() {
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["sse2", "avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["avx2", "fma"]) == "Haswell")
        // Missing one AVX-512 subset (no avx512vl) falls back to Haswell.
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: Self.avx512.subtracting(["avx512vl"])) == "Haswell")
    }

    @Test("neither AVX-512 nor AVX2+FMA: no recommendation")
    func none() {
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: []) == nil)
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["sse2", "avx"]) == nil)
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["avx2"]) == nil)
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["fma"]) == nil)
        #expect(BLASRuntime.recommendedCoreType(cpuFlags: ["avx512f", "avx512cd"]) == nil)
    }

    @Test("coreName, threadCount and summary describe the loaded library")
    func coreName() {
        #expect(!BLASRuntime.coreName.isEmpty)
        #expect(BLASRuntime.threadCount >= 1)
        #expect(BLASRuntime.summary.contains(BLASRuntime.coreName))
        #expect(BLASRuntime.summary.hasSuffix("direct convolution \(ConvolutionKernel.selected.rawValue)"))
    }
}
