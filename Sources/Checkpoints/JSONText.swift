import Foundation

/// The JSON that landscape writes, and checks of JSON text that the Foundation parsers report
/// only as "not valid JSON": bytes that are not UTF-8, and nesting deeper than the parsers accept.
///
/// JSON has no numbers for NaN and the infinities, so every JSON file landscape writes (run.json,
/// config.json, study.json, probe.json) holds them as the strings ``nan``, ``infinity`` and
/// ``negativeInfinity`` — `"nan"`, `"inf"`, `"-inf"`, the text CSV files have for them — through
/// ``data(_:)`` and ``encoder()``.
public enum JSONText {
    /// How NaN is written in JSON.
    public static let nan = "nan"
    /// How +∞ is written in JSON.
    public static let infinity = "inf"
    /// How −∞ is written in JSON.
    public static let negativeInfinity = "-inf"

    /// A JSON object or array as pretty-printed JSON with sorted keys, non-finite numbers written
    /// as `"nan"`, `"inf"` and `"-inf"`.
    /// - Throws: the serializer's error for a value that is not a JSON value (not expected).
    public static func data(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: writable(object), options: [.prettyPrinted, .sortedKeys])
    }

    /// An encoder that writes non-finite numbers as `"nan"`, `"inf"` and `"-inf"`; finite values
    /// come out as from a plain `JSONEncoder` (so SHA-256 sums of encodings are unchanged).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: infinity, negativeInfinity: negativeInfinity, nan: nan)
        return e
    }

    /// `object` with every non-finite number replaced by its string.
    static func writable(_ object: Any) -> Any {
        switch object {
        case let d as [String: Any]: return d.mapValues(writable)
        case let a as [Any]: return a.map(writable)
        case let x as Double where !x.isFinite: return text(of: x)
        case let x as Float where !x.isFinite: return text(of: Double(x))
        default: return object
        }
    }

    static func text(of x: Double) -> String { x.isNaN ? nan : x > 0 ? infinity : negativeInfinity }

    /// The floating-point numbers in a JSON object or array with their key paths
    /// (`sharpness.max`, `lanczos_top.0.value`), sorted by path.
    public static func numbers(in object: Any) -> [(path: String, value: Double)] {
        func walk(_ o: Any, _ path: String) -> [(path: String, value: Double)] {
            let prefix = path.isEmpty ? "" : path + "."
            switch o {
            case let d as [String: Any]: return d.flatMap { walk($1, prefix + $0) }
            case let a as [Any]: return a.enumerated().flatMap { walk($1, prefix + String($0)) }
            case let x as Double: return [(path, x)]
            case let x as Float: return [(path, Double(x))]
            default: return []
            }
        }
        return walk(object, "").sorted { $0.path < $1.path }
    }

    /// The deepest nesting of arrays and objects Foundation's JSON parsers accept.
    public static let maximumDepth = 512

    /// A plain-words description of why `data` cannot be parsed as JSON for one of these two
    /// reasons, or `nil` if neither applies (other syntax errors are left to the parser).
    public static func problem(in data: Data) -> String? {
        if String(data: data, encoding: .utf8) == nil {
            let valid = validUTF8Prefix(data)
            return "not UTF-8 text: the bytes from offset \(valid) on are not valid UTF-8"
        }
        let depth = nestingDepth(data)
        if depth > maximumDepth {
            return "nested too deep: \(depth) levels of arrays and objects, at most \(maximumDepth) are accepted"
        }
        return nil
    }

    /// The first key that appears twice in one object, as the path to it (object keys and array
    /// indices, outermost first), or `nil` if every object names each key once. Foundation's
    /// parsers keep the last value of a repeated key without a word; RFC 8259 §4 leaves the
    /// meaning of such an object undefined. Keys compare after their escapes are decoded.
    /// Meant for text the parser accepted; other text gives an answer but no diagnosis.
    public static func duplicateKey(in data: Data) -> [String]? {
        enum Frame { case object(keys: Set<String>, current: String?, expectingKey: Bool), array(index: Int) }
        var stack: [Frame] = []
        let bytes = [UInt8](data)
        var i = 0
        func path(_ last: String) -> [String] {
            stack.dropLast().map { frame -> String in
                switch frame {
                case let .object(_, current, _): return current ?? ""
                case let .array(index): return String(index)
                }
            } + [last]
        }
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                let start = i + 1
                var escaped = false
                i += 1
                while i < bytes.count, escaped || bytes[i] != UInt8(ascii: "\"") {
                    escaped = !escaped && bytes[i] == UInt8(ascii: "\\")
                    i += 1
                }
                guard case .object(var keys, _, true)? = stack.last else { break }
                let raw = Data(bytes[start..<min(i, bytes.count)])
                let key = raw.contains(UInt8(ascii: "\\"))
                    ? (try? JSONSerialization.jsonObject(with: Data("\"".utf8) + raw + Data("\"".utf8), options: .fragmentsAllowed)) as? String ?? String(decoding: raw, as: UTF8.self)
                    : String(decoding: raw, as: UTF8.self)
                if keys.contains(key) { return path(key) }
                stack.removeLast()          // so that `keys` is the set's only owner and grows in place
                keys.insert(key)
                stack.append(.object(keys: keys, current: key, expectingKey: false))
            case UInt8(ascii: "{"): stack.append(.object(keys: [], current: nil, expectingKey: true))
            case UInt8(ascii: "["): stack.append(.array(index: 0))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = stack.popLast()
            case UInt8(ascii: ","):
                switch stack.last {
                case let .object(keys, current, _)?: stack[stack.count - 1] = .object(keys: keys, current: current, expectingKey: true)
                case let .array(index)?: stack[stack.count - 1] = .array(index: index + 1)
                case nil: break
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The deepest nesting of `[` and `{` outside strings.
    public static func nestingDepth(_ data: Data) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in data {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return deepest
    }

    /// The length of the longest prefix of `data` that is valid UTF-8.
    static func validUTF8Prefix(_ data: Data) -> Int {
        var decoder = UTF8()
        var iterator = data.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return offset
            case .error: return offset
            }
        }
    }
}
