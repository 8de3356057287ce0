import Foundation

/// A value a setting can hold, read from command-line text: `0.1`, `true`, `mlp,cnn`, `null`.
/// Each type says what it is in words, for help and errors ("an integer", "one of mnist, fashion-mnist").
/// JSON is the type's `Codable` form; this protocol adds the command line and the words.
public protocol SettingValue: Codable {
    /// What a value of this type is, in words ("an integer", "a number", "one of mnist, fashion-mnist").
    static var typeDescription: String { get }
    /// Whether the option of a key of this type is a flag: `--KEY` sets true, `--no-KEY` false.
    static var isFlag: Bool { get }
    /// Reads a value from command-line text, or `nil` when the text is not one.
    init?(argument text: String)
    /// The value as the command line writes it (for defaults in help).
    var argumentText: String { get }
    /// The value as a number, for ``SettingLimits`` (`nil`: not a number, or an unset optional).
    var numericValue: Double? { get }
    /// What an element is, in words, for a list type (`nil` otherwise).
    static var elementDescription: String? { get }
    /// Why `text` is not a value, for a type that can say more than its ``typeDescription``
    /// (`nil`: "must be TYPE" says it).
    static func problem(argument text: String) -> String?
}

extension SettingValue {
    public static var isFlag: Bool { false }
    public static var elementDescription: String? { nil }
    public static func problem(argument text: String) -> String? { nil }
    public var numericValue: Double? { nil }

    /// Why a JSON value (as `JSONSerialization` reads it) is not a value of this type, or `nil`:
    /// the key below the value where the problem is (a list's index, a map's name; empty for the
    /// value itself) and the problem as it follows the key in an error (`must be an integer`,
    /// `must be true or false, not null`, `has an invalid value ('cifar'); expected one of mnist, fashion-mnist`,
    /// `lacks the key 'sha256'`, or the type's own words, ``problem(argument:)``). The value reads itself (its `Decodable`
    /// form); the kind of decoding error, not its text, tells a wrong kind from an invalid value.
    public static func problem(json value: Any) -> (subkey: [String], problem: String)? {
        guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]) else {
            return ([], "must be \(typeDescription)")
        }
        let context: DecodingError.Context
        do { _ = try JSONDecoder().decode([Self].self, from: data); return nil } catch let error as DecodingError {
            switch error {
            case let .typeMismatch(_, c), let .valueNotFound(_, c), let .keyNotFound(_, c), let .dataCorrupted(c): context = c
            @unknown default: return ([], "must be \(typeDescription)")
            }
            let subkey = context.codingPath.dropFirst().map { $0.intValue.map(String.init) ?? $0.stringValue }
            let expected = subkey.count == 1 ? elementDescription ?? typeDescription : typeDescription
            var node: Any? = value
            for k in subkey { node = (node as? [Any]).flatMap { a in Int(k).flatMap { $0 < a.count ? a[$0] : nil } } ?? (node as? [String: Any])?[k] }
            switch error {
            case .typeMismatch: return (subkey, "must be \(expected)")
            case .valueNotFound: return (subkey, "must be \(expected), not null")
            case let .keyNotFound(k, _): return (subkey, "lacks the key '\(k.stringValue)'")
            default:
                if subkey.isEmpty, let text = value as? String, let own = problem(argument: text) { return (subkey, own) }
                return (subkey, "has an invalid value (\(node.map { $0 is String ? "'\($0)'" : "\($0)" } ?? "?")); expected \(expected)")
            }
        } catch { return ([], "must be \(typeDescription)") }
    }
}

/// A value type, without a key: its words and its JSON check (``SettingValue/problem(json:)``),
/// for the entries of an open object (``SettingEntries``) and for a key (``SettingKey/type``).
public struct SettingType: Sendable {
    /// The type in words (``SettingValue/typeDescription``).
    public let description: String
    /// What an element is, for a list or a map (``SettingValue/elementDescription``).
    public let elementDescription: String?
    /// ``SettingValue/problem(json:)`` of the type.
    public let problem: @Sendable (Any) -> (subkey: [String], problem: String)?

    /// The type `V`.
    public init<V: SettingValue>(_: V.Type) {
        description = V.typeDescription
        elementDescription = V.elementDescription
        problem = { V.problem(json: $0) }
    }
}

/// What the entries of an open object hold (a map whose names the user chooses, such as the
/// study's regimes): each entry one value of a type, or an object of keys with their types.
public struct SettingEntries: Sendable {
    /// An entry's keys (dotted, relative to the entry) and their types; empty when an entry is one value.
    public let keys: [(name: String, type: SettingType)]
    /// An entry's type when it is one value.
    public let value: SettingType?

    /// Entries that are values of type `V`.
    public init<V: SettingValue>(_ type: V.Type) { keys = []; value = SettingType(type) }
    /// Entries that are objects of `keys` (one key table, or several: a regime's own keys and training's stopping keys).
    public init(keys: [(name: String, type: SettingType)]) { self.keys = keys; value = nil }
}

extension Int: SettingValue {
    public static var typeDescription: String { "an integer" }
    public init?(argument text: String) { self.init(text.trimmingCharacters(in: .whitespaces)) }
    public var argumentText: String { String(self) }
    public var numericValue: Double? { Double(self) }
}

extension UInt64: SettingValue {
    public static var typeDescription: String { "a non-negative integer" }
    public init?(argument text: String) { self.init(text.trimmingCharacters(in: .whitespaces)) }
    public var argumentText: String { String(self) }
    public var numericValue: Double? { Double(self) }
}

extension Double: SettingValue {
    public static var typeDescription: String { "a number" }
    /// Finite numbers only: `nan` and `inf` are not JSON values, so no configuration holds them.
    public init?(argument text: String) {
        guard let x = Double(text.trimmingCharacters(in: .whitespaces)), x.isFinite else { return nil }
        self = x
    }
    public var argumentText: String { "\(self)" }
    public var numericValue: Double? { self }
}

extension Bool: SettingValue {
    public static var typeDescription: String { "true or false" }
    public static var isFlag: Bool { true }
    public init?(argument text: String) {
        switch text.lowercased() {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    public var argumentText: String { self ? "true" : "false" }
}

extension String: SettingValue {
    public static var typeDescription: String { "a string" }
    public init?(argument text: String) { self = text }
    public var argumentText: String { self }
}

/// `null` (or nothing set) for an optional key: the command line writes it `null`.
extension Optional: SettingValue where Wrapped: SettingValue {
    public static var typeDescription: String { Wrapped.typeDescription + " or null" }
    public static var isFlag: Bool { Wrapped.isFlag }
    public static var elementDescription: String? { Wrapped.elementDescription }
    public init?(argument text: String) {
        if text == "null" { self = .none; return }
        guard let value = Wrapped(argument: text) else { return nil }
        self = .some(value)
    }
    public var argumentText: String { map(\.argumentText) ?? "null" }
    public var numericValue: Double? { flatMap(\.numericValue) }
}

/// A list: on the command line, items separated by commas (`mlp,cnn`, `0,1,2`).
extension Array: SettingValue where Element: SettingValue {
    public static var elementDescription: String? { Element.typeDescription }
    public static var typeDescription: String { "a list, each \(Element.typeDescription)" }
    public init?(argument text: String) {
        var out: [Element] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let value = Element(argument: item) else { return nil }
            out.append(value)
        }
        self = out
    }
    public var argumentText: String { map(\.argumentText).joined(separator: ",") }
    /// The first item that is not an element, and what is wrong with it (the element's own words
    /// where it has them: `item 'mlp:784-abc-10' has an invalid value …`).
    public static func problem(argument text: String) -> String? {
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty && Element(argument: item) == nil {
            return "item '\(item)' " + (Element.problem(argument: item) ?? "must be \(Element.typeDescription)")
        }
        return nil
    }
}

/// A map from names to values (a regime's learning rate per model, keyed by the model's name);
/// on the command line `NAME=VALUE` pairs separated by commas (`mlp=0.1,cnn=0.05`).
extension Dictionary: SettingValue where Key == String, Value: SettingValue {
    public static var elementDescription: String? { Value.typeDescription }
    public static var typeDescription: String { "an object from names to values (each \(Value.typeDescription))" }
    public init?(argument text: String) {
        var out: [String: Value] = [:]
        for item in text.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[0].isEmpty, let value = Value(argument: pair[1]) else { return nil }
            out[pair[0]] = value
        }
        self = out
    }
    public var argumentText: String { sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.argumentText)" }.joined(separator: ",") }
}

/// An enumeration whose cases are written by their names (raw values): conforming is all it takes.
public protocol SettingName: SettingValue, CaseIterable, RawRepresentable where RawValue == String {}

extension SettingName {
    public static var typeDescription: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
    public init?(argument text: String) { self.init(rawValue: text) }
    public var argumentText: String { rawValue }
}
