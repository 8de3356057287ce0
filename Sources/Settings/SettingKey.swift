import Foundation

/// The values a numeric key accepts, with the words that say so in help and errors.
public struct SettingLimits: Sendable {
    /// The limits in words, as they follow "must be" (`in 1...60000`, `positive and finite`).
    public let description: String
    let accepts: @Sendable (Double) -> Bool

    /// Limits with their words and their test.
    public init(_ description: String, accepts: @escaping @Sendable (Double) -> Bool) {
        self.description = description
        self.accepts = accepts
    }

    /// An integer range, `in LO...HI`.
    public static func range(_ r: ClosedRange<Int>) -> SettingLimits {
        SettingLimits("in \(r.lowerBound)...\(r.upperBound)") { $0 >= Double(r.lowerBound) && $0 <= Double(r.upperBound) }
    }
    /// At least `lower` (`at least 1`, `≥ 0`).
    public static func atLeast(_ lower: Int) -> SettingLimits {
        SettingLimits(lower == 0 ? "≥ 0" : "at least \(lower)") { $0 >= Double(lower) }
    }
    /// Greater than 0 and finite.
    public static let positive = SettingLimits("positive and finite") { $0 > 0 && $0.isFinite }
    /// At least 0 and finite.
    public static let nonNegative = SettingLimits("≥ 0 and finite") { $0 >= 0 && $0.isFinite }
    /// These limits with a note in parentheses after their words (`≥ 0 (0: never)`).
    public func noting(_ note: String) -> SettingLimits { SettingLimits("\(description) (\(note))", accepts: accepts) }
    /// In [lo, hi).
    public static func halfOpen(_ lo: Double, _ hi: Double) -> SettingLimits {
        SettingLimits("in [\(lo.formatted()), \(hi.formatted()))") { $0 >= lo && $0 < hi }
    }
    /// In (lo, hi].
    public static func openClosed(_ lo: Double, _ hi: Double) -> SettingLimits {
        SettingLimits("in (\(lo.formatted()), \(hi.formatted())]") { $0 > lo && $0 <= hi }
    }
}

extension Double {
    /// Shortest text of the number: `1` for 1.0, `0.5`.
    fileprivate func formatted() -> String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)" }
}

/// One key of a group of settings (`Root`), declared once: its dotted name, the option that sets
/// it, its type, help and limits. A configuration's list of these (`static let keys`) is where
/// its command-line options, their help, and the range checks come from.
public struct SettingKey<Root>: @unchecked Sendable {
    /// The dotted key as configuration files and `--set` write it (`optimizer.learningRate`).
    public let name: String
    /// The option, without dashes, in kebab case (`learning-rate`).
    public let option: String
    /// Further option names that older versions used (`data-dir`).
    public let aliases: [String]
    /// What the key means, one sentence.
    public let help: String
    /// The values it accepts, beyond its type; checked by ``SettingOptions/problem(in:)``.
    public let limits: SettingLimits?
    /// The key's type: its words and its JSON check.
    public let type: SettingType
    /// The type in words (``SettingValue/typeDescription``).
    public var typeDescription: String { type.description }
    /// Whether the option is a flag (`--KEY`, `--no-KEY`).
    public let isFlag: Bool
    /// What an element is, in words, for a list (``SettingValue/elementDescription``).
    public var elementDescription: String? { type.elementDescription }
    /// The key's value in a `Root`.
    public let value: (Root) -> any SettingValue
    /// Reads the key's value from command-line text, or `nil` when the text is not of its type.
    public let parse: (String) -> (any SettingValue)?
    /// Why text is not of the key's type, where the type says more (``SettingValue/problem(argument:)``).
    public let parseProblem: (String) -> String?
    /// Sets the key's value in a `Root` (`nil` where the key is set through the group's JSON).
    public let assign: ((inout Root, any SettingValue) -> Void)?

    /// A key stored at `path`.
    /// - Parameters:
    ///   - name: the dotted key; its last component in kebab case is the option unless `option` is given.
    public init<V: SettingValue>(_ name: String, _ path: WritableKeyPath<Root, V>, option: String? = nil, aliases: [String] = [],
                                 limits: SettingLimits? = nil, help: String) {
        self.init(name, V.self, option: option, aliases: aliases, limits: limits, help: help, value: { $0[keyPath: path] },
                  assign: { root, v in if let v = v as? V { root[keyPath: path] = v } })
    }

    /// A key read by `value` and set only through the group's JSON (a key inside an optional group).
    public init<V: SettingValue>(_ name: String, _ type: V.Type, option: String? = nil, aliases: [String] = [], limits: SettingLimits? = nil,
                                 help: String, value: @escaping (Root) -> V, assign: ((inout Root, any SettingValue) -> Void)? = nil) {
        self.name = name
        self.option = option ?? SettingKey.kebab(name.split(separator: ".").last.map(String.init) ?? name)
        self.aliases = aliases
        self.help = help
        self.limits = limits
        self.type = SettingType(V.self)
        self.isFlag = V.isFlag
        self.value = { value($0) }
        self.parse = { V(argument: $0) }
        self.parseProblem = { V.problem(argument: $0) }
        self.assign = assign
    }

    private init(copying k: SettingKey<some Any>, name: String, value: @escaping (Root) -> any SettingValue, assign: ((inout Root, any SettingValue) -> Void)?) {
        self.name = name
        option = k.option
        aliases = k.aliases
        help = k.help
        limits = k.limits
        type = k.type
        isFlag = k.isFlag
        self.value = value
        parse = k.parse
        parseProblem = k.parseProblem
        self.assign = assign
    }

    /// This key as a key of a group that holds `Root` at `path` under the name `prefix`
    /// (`training` + `optimizer.learningRate` → `training.optimizer.learningRate`; an empty prefix keeps the name).
    public func nested<Outer>(in prefix: String, _ path: WritableKeyPath<Outer, Root>) -> SettingKey<Outer> {
        let assign = self.assign
        return SettingKey<Outer>(copying: self, name: prefix.isEmpty ? name : "\(prefix).\(name)", value: { [value] in value($0[keyPath: path]) },
                                 assign: assign.map { a in { outer, v in a(&outer[keyPath: path], v) } })
    }

    /// `camelCase` → `camel-case`.
    public static func kebab(_ name: String) -> String {
        name.reduce(into: "") { out, c in if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) } }
    }

    /// The problem with the key's value in `root` (`must be in 1...60000, got 0`), or `nil`.
    public func problem(in root: Root) -> String? {
        guard let limits else { return nil }
        let v = value(root)
        guard let x = v.numericValue, !limits.accepts(x) else { return nil }
        return "must be \(limits.description), got \(v.argumentText)"
    }
}
