import Foundation
import Testing
@testable import Checkpoints

// MARK: - Helpers

/// SplitMix64: small, seeded, reproducible generator.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh empty directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("CheckpointsTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    func listing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Raw file bytes: 8-byte LE length (default: the header's byte count), header, buffer.
func rawFile(header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var data = Data()
    var n = (declaredLength ?? UInt64(h.count)).littleEndian
    withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
    data.append(contentsOf: h)
    data.append(contentsOf: buffer)
    return data
}

/// Writes `data` to a file and asserts that reading it throws a `CheckpointError`
/// satisfying `matches`, whose description names the file path.
func expectReadError(_ data: Data, _ label: String,
                     sourceLocation: SourceLocation = #_sourceLocation,
                     _ matches: (CheckpointError) -> Bool) throws {
    let dir = try TempDir()
    defer { dir.cleanup() }
    let url = dir.file("bad.safetensors")
    try data.write(to: url)
    do {
        let file = try SafeTensors.read(from: url)
        Issue.record("\(label): expected an error, got \(file.entries.count) entries", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        #expect(matches(error), "\(label): wrong error \(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(url.path), "\(label): description lacks path: \(error)",
                sourceLocation: sourceLocation)
    }
}

func bitsEqual(_ a: [Float], _ b: [Float]) -> Bool {
    a.map(\.bitPattern) == b.map(\.bitPattern)
}

func bitsEqual(_ a: [Double], _ b: [Double]) -> Bool {
    a.map(\.bitPattern) == b.map(\.bitPattern)
}

func headerJSON(of data: Data) throws -> (length: Int, text: String, object: [String: Any]) {
    let n = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    let headerData = data.subdata(in: 8 ..< 8 + Int(n))
    let object = try #require(try JSONSerialization.jsonObject(with: headerData) as? [String: Any])
    return (Int(n), String(decoding: headerData, as: UTF8.self), object)
}

// MARK: - Round trips and layout

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test("Round trip of mixed F32/F64/I64 tensors with metadata, order preserved, bit-exact")
    func roundTripMixed() throws {
        var rng = SplitMix64(seed: 0x5AFE_7E25)
        func floats(_ n: Int) -> [Float] { (0 ..< n).map { _ in Float.random(in: -10 ... 10, using: &rng) } }
        func doubles(_ n: Int) -> [Double] { (0 ..< n).map { _ in Double.random(in: -1e6 ... 1e6, using: &rng) } }

        let special: [Float] = [0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)] = [
            ("layer2.weight", [3, 4], .f32(floats(12))),
            ("layer1.bias", [5], .f64(doubles(5))),
            ("scalar", [], .f32(floats(1))),
            ("empty", [0, 7], .f32([])),
            ("cube", [2, 3, 5], .f64(doubles(30))),
            ("special", [7], .f32(special)),
            ("step", [2], .i64([Int64.min, 42])),
            ("quote\"and\\slash\nünïcode", [1], .f64([.pi])),
        ]
        let metadata = ["format": "pt", "epoch": "17", "note": "tab\there \"quoted\" ✓"]

        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("model.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        let file = try SafeTensors.read(from: url)

        #expect(file.metadata == metadata)
        #expect(file.names == tensors.map(\.name))  // data-offset order == given order
        for t in tensors {
            #expect(try file.shape(named: t.name) == t.shape)
            let e = try file.entry(named: t.name)
            #expect(e.dtype == t.payload.dtype)
            #expect(e.elementCount == t.payload.count)
            switch t.payload {
            case .f32(let v):
                #expect(bitsEqual(try file.floats(named: t.name), v), "\(t.name)")
                #expect(try file.doubles(named: t.name).map { Float($0) }.map(\.bitPattern) == v.map(\.bitPattern))
            case .f64(let v):
                #expect(bitsEqual(try file.doubles(named: t.name), v), "\(t.name)")
            case .i64(let v):
                #expect(try file.int64s(named: t.name) == v)
            }
        }
        // Offsets contiguous and covering the buffer.
        var end = 0
        for e in file.entries {
            #expect(e.dataOffsets.lowerBound == end)
            end = e.dataOffsets.upperBound
        }
        #expect(end == file.bufferByteCount)
    }

    @Test("Float and Double convenience writers round-trip and keep order")
    func roundTripTyped() throws {
        var rng = SplitMix64(seed: 20_240_601)
        let dir = try TempDir()
        defer { dir.cleanup() }

        let fTensors: [(name: String, shape: [Int], values: [Float])] = [
            ("z", [4, 2], (0 ..< 8).map { _ in Float.random(in: -1 ... 1, using: &rng) }),
            ("a", [3], (0 ..< 3).map { _ in Float.random(in: -1 ... 1, using: &rng) }),
        ]
        let fURL = dir.file("f.safetensors")
        try SafeTensors.write(fTensors, metadata: ["kind": "float"], to: fURL)
        let f = try SafeTensors.read(from: fURL)
        #expect(f.names == ["z", "a"])
        #expect(f.metadata == ["kind": "float"])
        for t in fTensors {
            #expect(bitsEqual(try f.floats(named: t.name), t.values))
            #expect(try f.entry(named: t.name).dtype == .f32)
        }

        let dTensors: [(name: String, shape: [Int], values: [Double])] = [
            ("m", [2, 2], (0 ..< 4).map { _ in Double.random(in: -1 ... 1, using: &rng) }),
            ("b", [1], [1e-300]),
        ]
        let dURL = dir.file("d.safetensors")
        try SafeTensors.write(dTensors, metadata: [:], to: dURL)
        let d = try SafeTensors.read(from: dURL)
        #expect(d.names == ["m", "b"])
        #expect(d.metadata.isEmpty)
        for t in dTensors {
            #expect(bitsEqual(try d.doubles(named: t.name), t.values))
            #expect(try d.entry(named: t.name).dtype == .f64)
        }
        // Empty metadata is omitted from the header entirely.
        let (_, text, object) = try headerJSON(of: try Data(contentsOf: dURL))
        #expect(object["__metadata__"] == nil)
        #expect(!text.contains("__metadata__"))
    }

    @Test("Header is valid JSON with correct dtypes, shapes, offsets, order and 8-byte alignment")
    func headerIsValidJSON() throws {
        var rng = SplitMix64(seed: 7)
        let tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)] = [
            ("beta", [2, 3], .f32((0 ..< 6).map { _ in Float.random(in: 0 ... 1, using: &rng) })),
            ("alpha", [4], .f64((0 ..< 4).map { _ in Double.random(in: 0 ... 1, using: &rng) })),
            ("gamma", [], .f32([1])),
        ]
        // Try several metadata sizes so that different paddings (0...7) occur.
        for extra in 0 ..< 8 {
            let metadata = ["pad": String(repeating: "x", count: extra)]
            let data = try SafeTensors.encode(tensors, metadata: metadata)
            let (n, text, object) = try headerJSON(of: data)
            #expect(n % 8 == 0, "header length \(n) not a multiple of 8")
            #expect((8 + n) % 8 == 0)
            // Padding, if any, is trailing spaces only and less than 8 bytes.
            let trimmed = text.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
            #expect(text.count - trimmed.count < 8)
            #expect(trimmed.hasSuffix("}"))

            #expect(object["__metadata__"] as? [String: String] == metadata)
            let expected: [(String, String, [Int], [Int])] = [
                ("beta", "F32", [2, 3], [0, 24]),
                ("alpha", "F64", [4], [24, 56]),
                ("gamma", "F32", [], [56, 60]),
            ]
            for (name, dtype, shape, offsets) in expected {
                let entry = try #require(object[name] as? [String: Any], "missing \(name)")
                #expect(entry["dtype"] as? String == dtype)
                #expect(entry["shape"] as? [Int] == shape)
                #expect(entry["data_offsets"] as? [Int] == offsets)
            }
            #expect(object.count == 4)
            #expect(data.count == 8 + n + 60)
            // Header text lists tensors in the given order.
            let positions = ["\"beta\"", "\"alpha\"", "\"gamma\""].map { text.range(of: $0)!.lowerBound }
            #expect(positions == positions.sorted())
        }
    }

    @Test("Known byte layout: w = [1.0, -2.0] as F32")
    func knownByteLayout() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("w.safetensors")
        try SafeTensors.write([(name: "w", shape: [2], values: [Float(1.0), Float(-2.0)])], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))

        let json = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(json.utf8.count == 54)
        let padded = json + "  "  // padded with spaces to 56 = 7 * 8 bytes
        #expect(bytes.count == 8 + 56 + 8)
        #expect(Array(bytes[0 ..< 8]) == [56, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[8 ..< 64]) == Array(padded.utf8))
        // IEEE 754 binary32: 1.0 = 0x3F800000, -2.0 = 0xC0000000, little-endian.
        #expect(Array(bytes[64 ..< 72]) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    @Test("Known byte layout: F64 [1.0] and I64 [-1]")
    func knownByteLayout64() throws {
        let data = try SafeTensors.encode([(name: "d", shape: [1], payload: .f64([1.0])),
                                           (name: "i", shape: [1], payload: .i64([-1]))])
        let bytes = [UInt8](data)
        // IEEE 754 binary64: 1.0 = 0x3FF0000000000000; -1 as two's complement = all ones.
        #expect(Array(bytes.suffix(16)) == [0, 0, 0, 0, 0, 0, 0xF0, 0x3F] + [UInt8](repeating: 0xFF, count: 8))
    }

    // MARK: - Reader accessors

    @Test("F64 → F32 narrowing throws unless allowed; other dtype mismatches throw")
    func conversions() throws {
        let data = try SafeTensors.encode([
            (name: "d", shape: [2], payload: .f64([0.1, 3.0])),
            (name: "i", shape: [1], payload: .i64([5])),
        ])
        let file = try SafeTensors.parse(data)
        #expect(throws: CheckpointError.lossyConversion(path: "<memory>", tensor: "d", stored: .f64, requested: .f32)) {
            try file.floats(named: "d")
        }
        #expect(try file.floats(named: "d", allowingNarrowing: true) == [Float(0.1), 3])
        #expect(throws: CheckpointError.dtypeMismatch(path: "<memory>", tensor: "i", stored: .i64, requested: .f32)) {
            try file.floats(named: "i")
        }
        #expect(throws: CheckpointError.dtypeMismatch(path: "<memory>", tensor: "i", stored: .i64, requested: .f64)) {
            try file.doubles(named: "i")
        }
        #expect(throws: CheckpointError.dtypeMismatch(path: "<memory>", tensor: "d", stored: .f64, requested: .i64)) {
            try file.int64s(named: "d")
        }
        #expect(throws: CheckpointError.tensorNotFound(path: "<memory>", tensor: "nope")) {
            try file.shape(named: "nope")
        }
        #expect(try file.rawBytes(named: "i") == Data([5, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test("Reader accepts other dtypes (as raw bytes), zero tensors, and unpadded headers")
    func readerAcceptsValidVariants() throws {
        let bf16 = try SafeTensors.parse(rawFile(
            header: #"{"h":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, buffer: [1, 2, 3, 4]))
        #expect(try bf16.entry(named: "h").dtype == .bf16)
        #expect(try bf16.rawBytes(named: "h") == Data([1, 2, 3, 4]))
        #expect(throws: CheckpointError.self) { try bf16.floats(named: "h") }

        let empty = try SafeTensors.parse(rawFile(header: "{}"))
        #expect(empty.entries.isEmpty)
        #expect(empty.bufferByteCount == 0)

        let meta = try SafeTensors.parse(rawFile(header: #"{"__metadata__":{"a":"b"}}   "#))
        #expect(meta.metadata == ["a": "b"])

        // Entries are reported in data-offset order even if the header lists them otherwise.
        let reordered = try SafeTensors.parse(rawFile(
            header: #"{"late":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"early":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            buffer: [9, 8]))
        #expect(reordered.names == ["early", "late"])
    }

    // MARK: - Corruption

    @Test("Every corruption case throws the matching CheckpointError naming the path")
    func corruptions() throws {
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)

        try expectReadError(Data(), "empty file") {
            if case .fileTooShort(_, 0) = $0 { true } else { false }
        }
        try expectReadError(Data([1, 2, 3, 4, 5]), "5-byte file") {
            if case .fileTooShort(_, 5) = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: good, buffer: eight, declaredLength: 1000), "header length > file") {
            if case .headerLengthExceedsFile(_, 1000, 54 + 8) = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: "", declaredLength: UInt64.max), "huge header length") {
            if case .headerLengthExceedsFile = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #"{"a": {"dtype": "F32""#), "truncated JSON") {
            if case .headerNotJSON = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: ""), "zero-length header") {
            if case .headerNotJSON = $0 { true } else { false }
        }
        var badUTF8 = rawFile(header: #"{"a":1}"#)
        badUTF8[10] = 0xFF
        try expectReadError(badUTF8, "invalid UTF-8") {
            if case .headerNotJSON = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: "[1,2,3]"), "array header") {
            if case .headerNotObject = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #""text""#), "string header") {
            if case .headerNotObject = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #"{"__metadata__":[1]}"#), "metadata not object") {
            if case .invalidMetadata = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #"{"__metadata__":{"k":3}}"#), "metadata value not string") {
            if case .invalidMetadata = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #"{"a":[0,8]}"#), "entry not object") {
            $0 == .entryNotObject(path: $0.pathForTest, tensor: "a")
        }
        for field in ["dtype", "shape", "data_offsets"] {
            var fields = [#""dtype":"F32""#, #""shape":[2]"#, #""data_offsets":[0,8]"#]
            fields.removeAll { $0.hasPrefix("\"\(field)\"") }
            try expectReadError(rawFile(header: "{\"a\":{\(fields.joined(separator: ","))}}", buffer: eight),
                                "missing \(field)") {
                $0 == .missingField(path: $0.pathForTest, tensor: "a", field: field)
            }
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}"#, buffer: eight),
                            "unknown dtype") {
            $0 == .unknownDType(path: $0.pathForTest, tensor: "a", dtype: "F17")
        }
        let invalidFields: [(String, String, String)] = [
            (#"{"dtype":32,"shape":[2],"data_offsets":[0,8]}"#, "dtype", "dtype not string"),
            (#"{"dtype":"F32","shape":"2","data_offsets":[0,8]}"#, "shape", "shape not array"),
            (#"{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}"#, "shape", "negative dim"),
            (#"{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}"#, "shape", "fractional dim"),
            (#"{"dtype":"F32","shape":[true],"data_offsets":[0,8]}"#, "shape", "boolean dim"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}"#, "data_offsets", "three offsets"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[8]}"#, "data_offsets", "one offset"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#, "data_offsets", "begin after end"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}"#, "data_offsets", "string offset"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}"#, "data_offsets", "offset > Int.max"),
        ]
        for (entry, field, label) in invalidFields {
            try expectReadError(rawFile(header: "{\"a\":\(entry)}", buffer: eight), label) {
                if case .invalidField(_, "a", field, _) = $0 { true } else { false }
            }
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, buffer: eight),
                            "shape/offset size mismatch") {
            $0 == .sizeMismatch(path: $0.pathForTest, tensor: "a", dtype: .f32, shape: [3], expectedBytes: 12, actualBytes: 8)
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, buffer: eight),
                            "dtype size mismatch") {
            $0 == .sizeMismatch(path: $0.pathForTest, tensor: "a", dtype: .f64, shape: [2], expectedBytes: 16, actualBytes: 8)
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                    buffer: [UInt8](repeating: 0, count: 12)), "overlap") {
            $0 == .overlappingOffsets(path: $0.pathForTest, tensor: "b", begin: 4, previousTensor: "a", previousEnd: 8)
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                    buffer: eight), "identical offsets") {
            if case .overlappingOffsets = $0 { true } else { false }
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#,
                                    buffer: [UInt8](repeating: 0, count: 20)), "gap between tensors") {
            $0 == .gapInOffsets(path: $0.pathForTest, tensor: "b", begin: 12, expectedBegin: 8)
        }
        try expectReadError(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                    buffer: [UInt8](repeating: 0, count: 12)), "gap at buffer start") {
            $0 == .gapInOffsets(path: $0.pathForTest, tensor: "a", begin: 4, expectedBegin: 0)
        }
        try expectReadError(rawFile(header: good, buffer: eight + [0]), "trailing bytes") {
            $0 == .bufferLengthMismatch(path: $0.pathForTest, coveredBytes: 8, bufferBytes: 9)
        }
        try expectReadError(rawFile(header: good, buffer: [0, 0, 0, 0]), "truncated buffer") {
            $0 == .bufferLengthMismatch(path: $0.pathForTest, coveredBytes: 8, bufferBytes: 4)
        }
        try expectReadError(rawFile(header: "{}", buffer: [0]), "buffer without tensors") {
            $0 == .bufferLengthMismatch(path: $0.pathForTest, coveredBytes: 0, bufferBytes: 1)
        }

        // Truncating a valid file at every length never crashes and always throws.
        let valid = try SafeTensors.encode([(name: "w", shape: [2, 2], payload: .f32([1, 2, 3, 4]))],
                                           metadata: ["k": "v"])
        #expect(try SafeTensors.parse(valid).names == ["w"])
        for length in 0 ..< valid.count {
            #expect(throws: CheckpointError.self, "prefix of \(length) bytes") {
                try SafeTensors.parse(valid.prefix(length))
            }
        }
    }

    @Test("Missing file throws ioFailure naming the path")
    func missingFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("absent.safetensors")
        do {
            _ = try SafeTensors.read(from: url)
            Issue.record("expected an error")
        } catch let error as CheckpointError {
            guard case .ioFailure(let path, _, _) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(path == url.path)
            #expect(error.description.contains(url.path))
        }
    }

    // MARK: - Writer validation

    @Test("Writer rejects bad names, shapes and value counts, and writes nothing")
    func writerValidation() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("out.safetensors")
        let p = url.path
        #expect(throws: CheckpointError.valueCountMismatch(path: p, tensor: "w", shape: [2, 2], expectedCount: 4, actualCount: 3)) {
            try SafeTensors.write([(name: "w", shape: [2, 2], values: [Float(1), 2, 3])], to: url)
        }
        #expect(throws: CheckpointError.invalidTensorName(path: p, tensor: "w", problem: "name is used twice")) {
            try SafeTensors.write([(name: "w", shape: [1], values: [1.0]), (name: "w", shape: [1], values: [2.0])], to: url)
        }
        #expect(throws: CheckpointError.self) {
            try SafeTensors.write([(name: "__metadata__", shape: [1], values: [Float(1)])], to: url)
        }
        #expect(throws: CheckpointError.self) {
            try SafeTensors.write([(name: "", shape: [1], values: [Float(1)])], to: url)
        }
        #expect(throws: CheckpointError.self) {
            try SafeTensors.write([(name: "n", shape: [-1], values: [Float]())], to: url)
        }
        #expect(throws: CheckpointError.self) {
            try SafeTensors.write([(name: "n", shape: [Int.max, 4], values: [Float]())], to: url)
        }
        #expect(try dir.listing().isEmpty)
    }

    // MARK: - Atomic writes

    @Test("Atomic write replaces an existing file and leaves no temporary file")
    func atomicReplace() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("ckpt.safetensors")

        try SafeTensors.write([(name: "v", shape: [3], values: [Float(1), 2, 3])], metadata: ["gen": "1"], to: url)
        #expect(try dir.listing() == ["ckpt.safetensors"])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)

        try SafeTensors.write([(name: "v", shape: [2], values: [Double(7), 8])], metadata: ["gen": "2"], to: url)
        #expect(try dir.listing() == ["ckpt.safetensors"])
        let file = try SafeTensors.read(from: url)
        #expect(file.metadata == ["gen": "2"])
        #expect(try file.doubles(named: "v") == [7, 8])
        #expect(try file.entry(named: "v").dtype == .f64)
        let perms = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(perms == 0o600, "permissions of the replaced file are kept")

        // Plain AtomicFile use.
        let text = dir.file("notes.txt")
        try AtomicFile.write("first", to: text)
        try AtomicFile.write(Data("second\n".utf8), to: text)
        #expect(try String(contentsOf: text, encoding: .utf8) == "second\n")
        #expect(try dir.listing() == ["ckpt.safetensors", "notes.txt"])
    }

    @Test("Failed atomic writes throw ioFailure and leave no temporary file")
    func atomicFailure() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }

        // Parent directory does not exist: creating the temp file fails.
        let missing = dir.url.appendingPathComponent("no/such/dir/x.safetensors")
        #expect {
            try AtomicFile.write(Data([1]), to: missing)
        } throws: { error in
            if case .ioFailure(let path, _, _) = error as? CheckpointError { path == missing.path } else { false }
        }

        // Destination is a non-empty directory: the rename fails after the temp file was written.
        let blocker = dir.file("blocked")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: false)
        try Data([0]).write(to: blocker.appendingPathComponent("inside"))
        #expect {
            try SafeTensors.write([(name: "v", shape: [1], values: [Float(1)])], to: blocker)
        } throws: { error in
            if case .ioFailure = error as? CheckpointError { true } else { false }
        }
        #expect(try dir.listing() == ["blocked"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: blocker.path) == ["inside"])
    }

    @Test("Error descriptions are plain words naming the path")
    func descriptions() {
        let e = CheckpointError.gapInOffsets(path: "/tmp/m.safetensors", tensor: "b", begin: 12, expectedBegin: 8)
        #expect(e.description.contains("/tmp/m.safetensors"))
        #expect(e.description.contains("'b'"))
        #expect(e.description.contains("gap"))
        let s = CheckpointError.fileTooShort(path: "/x", byteCount: 3).description
        #expect(s.contains("/x") && s.contains("3 bytes"))
    }
}

extension CheckpointError {
    /// The `path` associated value of any case (test convenience).
    var pathForTest: String {
        switch self {
        case let .fileTooShort(p, _), let .headerLengthExceedsFile(p, _, _), let .headerNotJSON(p, _),
             let .headerNotObject(p), let .invalidMetadata(p, _), let .entryNotObject(p, _),
             let .missingField(p, _, _), let .invalidField(p, _, _, _), let .unknownDType(p, _, _),
             let .sizeMismatch(p, _, _, _, _, _), let .overlappingOffsets(p, _, _, _, _),
             let .gapInOffsets(p, _, _, _), let .bufferLengthMismatch(p, _, _), let .tensorNotFound(p, _),
             let .dtypeMismatch(p, _, _, _), let .lossyConversion(p, _, _, _),
             let .valueCountMismatch(p, _, _, _, _), let .invalidShape(p, _, _, _),
             let .invalidTensorName(p, _, _), let .ioFailure(p, _, _), let .shapeMismatch(p, _, _, _),
             let .nonFiniteValue(p, _, _, _, _):
            return p
        }
    }
}
