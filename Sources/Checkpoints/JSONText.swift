import Foundation

/// Checks of JSON text that the Foundation parsers report only as "not valid JSON": bytes that
/// are not UTF-8, and nesting deeper than the parsers accept.
public enum JSONText {
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
