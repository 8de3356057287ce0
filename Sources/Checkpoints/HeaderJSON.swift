import Foundation

/// A parsed JSON value, type-strict: integers, non-integers, booleans and strings
/// stay distinct so that e.g. `"shape": [2.5]` or `"shape": [true]` are rejected.
indirect enum JSONValue: Decodable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsignedTooLarge   // an integer above Int64.max
    case number(Double)     // a non-integral number
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .integer(i); return }
        if (try? c.decode(UInt64.self)) != nil { self = .unsignedTooLarge; return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    /// A short human-readable name of the JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .unsignedTooLarge: return "an integer"
        case .number: return "a non-integer number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses UTF-8 JSON; throws `detail` text on failure.
    static func parse(_ bytes: Data) throws(ParseFailure) -> JSONValue {
        if let problem = JSONText.problem(in: bytes) { throw ParseFailure(detail: problem) }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: bytes)
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context):
                var text = context.debugDescription
                if let underlying = context.underlyingError {
                    text += " (\(underlying))"
                }
                throw ParseFailure(detail: text)
            default:
                throw ParseFailure(detail: String(describing: error))
            }
        } catch {
            throw ParseFailure(detail: String(describing: error))
        }
    }

    struct ParseFailure: Error {
        var detail: String
    }
}

/// JSON string literal for `s`, escaped per RFC 8259 (quotes, backslash and
/// control characters; other characters written as UTF-8).
func jsonStringLiteral(_ s: String) -> String {
    var out = "\""
    out.reserveCapacity(s.utf8.count + 2)
    let hex: [Character] = Array("0123456789abcdef")
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                out += "\\u00"
                out.append(hex[Int(scalar.value >> 4)])
                out.append(hex[Int(scalar.value & 0xF)])
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out += "\""
    return out
}
