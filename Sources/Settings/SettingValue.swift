import Foundation

/// A value a setting can hold, read from command-line text: `0.1`, `true`, `mlp,cnn`, `null`.
/// Each type says what it is in words, for help and errors ("an integer", "one of mlp, cnn").
/// JSON is the type's `Codable` form; this protocol adds only the command line.
public protocol SettingValue: Encodable {
    /// What a value of this type is, in words ("an integer", "a number", "one of mlp, cnn").
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
}

/// An enumeration whose cases are written by their names (raw values): conforming is all it takes.
public protocol SettingName: SettingValue, CaseIterable, RawRepresentable where RawValue == String {}

extension SettingName {
    public static var typeDescription: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
    public init?(argument text: String) { self.init(rawValue: text) }
    public var argumentText: String { rawValue }
}
