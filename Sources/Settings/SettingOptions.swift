import Foundation

/// A command-line problem with key options, in the words and spelling the user typed:
/// `--lr: no such option; did you mean --learning-rate?`, `--epochs abc: must be an integer`.
public struct SettingOptionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What the user typed (`--lr`, `--epochs abc`).
    public var spelled: String
    /// What is wrong.
    public var problem: String
    /// The error of what was typed and its problem.
    public init(spelled: String, problem: String) {
        self.spelled = spelled
        self.problem = problem
    }
    /// `SPELLED: PROBLEM`.
    public var description: String { "\(spelled): \(problem)" }
}

/// One key option as given on the command line: the key, the value read, and how it was typed.
public struct SettingAssignment<Root> {
    /// The key the option named, whichever of its spellings was typed (`--x`, `--x=v`, `--no-x`).
    public let key: SettingKey<Root>
    /// The value, of the key's type.
    public let value: any SettingValue
    /// The option as typed (`--lr 0.1`, `--no-nesterov`), for messages.
    public let spelled: String
}

/// The options of a group's keys (``SettingKey``): every key is `--OPTION VALUE` (or
/// `--OPTION=VALUE`); a key holding true or false is the flag `--OPTION` / `--no-OPTION`. The
/// same table gives the options' help and checks the keys' limits.
public struct SettingOptions<Root>: Sendable {
    /// The keys, in the order help lists them.
    public let keys: [SettingKey<Root>]
    /// The command's other option names (without dashes), which ``suggestion(for:)`` may name too
    /// (`--ouptut-dir` → `--output-dir`).
    public let otherOptions: [String]

    /// The options of `keys`, beside a command's `otherOptions` (names without dashes).
    public init(_ keys: [SettingKey<Root>], otherOptions: [String] = []) {
        self.keys = keys
        self.otherOptions = otherOptions
    }

    /// The key of an option name (without dashes), by its name or an alias.
    public func key(option name: String) -> SettingKey<Root>? {
        keys.first { $0.option == name } ?? keys.first { $0.aliases.contains(name) }
    }

    /// The key of a dotted name.
    public func key(named name: String) -> SettingKey<Root>? { keys.first { $0.name == name } }

    /// Reads `arguments` (what the command's own options left: ArgumentParser's unrecognized
    /// inputs, in order) as key options.
    /// - Throws: ``SettingOptionError`` in the user's spelling: an unknown option (with the
    ///   nearest option named), a missing value, a value not of the key's type, a stray argument
    ///   (a separate value after a flag, `--`), a key given twice.
    public func parse(_ arguments: [String]) throws -> [SettingAssignment<Root>] {
        var out: [SettingAssignment<Root>] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if a == "--" {
                throw SettingOptionError(spelled: a, problem: "not used: no command takes arguments after its options; give every setting as --NAME VALUE")
            }
            guard a.hasPrefix("--"), a.count > 2 else {
                throw SettingOptionError(spelled: a, problem: "unexpected argument" + (a.hasPrefix("-") ? "; options are spelled --NAME" : ""))
            }
            let body = String(a.dropFirst(2))
            let (name, inline) = body.firstIndex(of: "=").map { (String(body[..<$0]), Optional(String(body[body.index(after: $0)...]))) } ?? (body, nil)
            if let key = key(option: name) {
                let text: String
                if let inline { text = inline } else if key.isFlag { text = "true" } else {
                    guard i < arguments.count, !arguments[i].hasPrefix("--") else {
                        throw SettingOptionError(spelled: a, problem: "needs a value (\(key.typeDescription))")
                    }
                    text = arguments[i]
                    i += 1
                }
                let spelled = inline != nil || key.isFlag ? a : "\(a) \(text)"
                guard let value = key.parse(text) else {
                    throw SettingOptionError(spelled: spelled, problem: key.parseProblem(text) ?? "must be \(key.typeDescription)")
                }
                if key.isFlag, inline == nil, i < arguments.count, Bool(argument: arguments[i]) != nil {
                    throw SettingOptionError(spelled: "\(a) \(arguments[i])", problem: "a flag takes no separate value; \(Self.flagForms(key.option))")
                }
                out.append(SettingAssignment(key: key, value: value, spelled: spelled))
            } else if name.hasPrefix("no-"), let key = key(option: String(name.dropFirst(3))), key.isFlag, let value = key.parse("false") {
                guard inline == nil else { throw SettingOptionError(spelled: a, problem: "--\(name) takes no value; \(Self.flagForms(key.option))") }
                if i < arguments.count, Bool(argument: arguments[i]) != nil {
                    throw SettingOptionError(spelled: "\(a) \(arguments[i])", problem: "a flag takes no separate value; \(Self.flagForms(key.option))")
                }
                out.append(SettingAssignment(key: key, value: value, spelled: a))
            } else {
                throw SettingOptionError(spelled: "--\(name)", problem: "no such option" + (suggestion(for: name).map { "; did you mean --\($0)?" } ?? "; --help lists the options"))
            }
            if let last = out.last, let first = out.dropLast().first(where: { $0.key.name == last.key.name }) {
                throw SettingOptionError(spelled: last.spelled, problem: "\(last.key.name) is given twice (\(first.spelled), \(last.spelled)); give it once")
            }
        }
        return out
    }

    /// The three forms of the flag `--OPTION`, in words.
    static func flagForms(_ option: String) -> String {
        "write --\(option) (true), --no-\(option) (false) or --\(option)=true|false"
    }

    /// The option nearest to `name`: the one whose initials it is (`lr`), else the closest by edit
    /// distance within 2, else one that contains it or that it contains (3 characters at least),
    /// else the closest within half the name's length; at each step a key's option before the
    /// command's ``otherOptions``.
    public func suggestion(for name: String) -> String? {
        let tiers = [keys.map(\.option) + keys.flatMap(\.aliases), otherOptions]
        let steps: [([String]) -> String?] = [
            { names in name.count > 1 ? names.first { $0.split(separator: "-").map { String($0.prefix(1)) }.joined() == name } : nil },
            { names in names.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 }.flatMap { $0.1 <= 2 ? $0.0 : nil } },
            { names in name.count >= 3 ? names.filter { $0.count >= 3 && ($0.contains(name) || name.contains($0)) }.min { $0.count < $1.count } : nil },
            { names in names.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 }.flatMap { $0.1 <= name.count / 2 ? $0.0 : nil } },
        ]
        for step in steps { for names in tiers { if let found = step(names) { return found } } }
        return nil
    }

    /// The options in help: each with its value's type, description, limits and default
    /// (`defaults`' value), and its key.
    public func help(defaults: Root, heading: String) -> String {
        heading + "\n" + keys.map { k in
            let form = k.isFlag ? "--\(k.option) / --no-\(k.option)" : "--\(k.option) <\(k.typeDescription)>"
            let limits = k.limits.map { " Must be \($0.description)." } ?? ""
            let aliases = k.aliases.isEmpty ? "" : " Also: " + k.aliases.map { "--\($0)" }.joined(separator: ", ") + "."
            return (["  \(form)"] + wrap("\(k.help)\(limits) Default: \(k.value(defaults).argumentText). Key: \(k.name).\(aliases)", indent: 6)).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// `text` in lines of at most 79 characters after `indent` spaces (ArgumentParser re-wraps
    /// longer lines of a discussion without the indentation).
    func wrap(_ text: String, indent: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, indent + line.count + 1 + word.count > 79 { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { String(repeating: " ", count: indent) + $0 }
    }

    /// The first key whose value is outside its limits, and the problem.
    public func problem(in root: Root) -> (key: SettingKey<Root>, problem: String)? {
        for k in keys { if let p = k.problem(in: root) { return (k, p) } }
        return nil
    }
}

/// Levenshtein distance between two strings.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let next = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = row[j]
            row[j] = next
        }
    }
    return row[b.count]
}
