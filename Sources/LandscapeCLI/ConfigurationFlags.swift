import ArgumentParser
import Checkpoints
import Foundation
import Settings
import Training

/// Options named after configuration keys: every key a configuration declares (``ConfigurationValue/keys``)
/// is also the option `--KEY` in kebab case (`--learning-rate 0.1`, `--nesterov`, `--no-nesterov`,
/// `--models mlp,cnn`), read from what ArgumentParser did not recognise (``ConfigurationOptions``)
/// and typed by the key's declaration. Messages name the option as the user typed it.
enum ConfigurationFlags {
    /// `base` with `--set KEY=VALUE` and the key options in `arguments` laid over it in their
    /// order, and for each key set, how it was typed.
    /// - Throws: ``SettingOptionError`` (an unknown option, a missing or mistyped value, a key
    ///   given twice, by `--set` or its option) or ``ConfigurationError`` with the option as typed as its source.
    static func apply<C: ConfigurationValue>(_ arguments: [String], to base: C) throws -> (C, spelled: [String: String]) {
        var c = base
        var spelled: [String: String] = [:]
        func record(_ key: String, _ typed: String) throws {
            if let first = spelled[key] { throw SettingOptionError(spelled: typed, problem: "\(key) is given twice (\(first), \(typed)); give it once") }
            spelled[key] = typed
        }
        let table = SettingOptions(C.keys, otherOptions: CommandOptions.names + ["set"])
        var pending: [String] = []
        func applyPending() throws {
            for a in try table.parse(pending) {
                try record(a.key.name, a.spelled)
                // null for a key that is unset already (inside an optional group that is nil) leaves it so.
                if a.value.argumentText == "null", a.key.value(c).argumentText == "null" { continue }
                var nested = jsonValue(a.value)
                for k in a.key.name.split(separator: ".").reversed() { nested = [String(k): nested] }
                c = try c.merging(nested as? [String: Any] ?? [:], source: a.spelled)
            }
            pending = []
        }
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            let assignment: String
            if a == "--set" {
                guard i < arguments.count else { throw SettingOptionError(spelled: a, problem: "needs KEY=VALUE") }
                assignment = arguments[i]
                i += 1
            } else if a.hasPrefix("--set=") {
                assignment = String(a.dropFirst("--set=".count))
            } else {
                pending.append(a)
                continue
            }
            try applyPending()
            let typed = "--set \(assignment)"
            c = try c.setting(assignment)
            if let key = assignment.split(separator: "=").first, let path = try? C.path(of: String(key)) { try record(path.joined(separator: "."), typed) }
        }
        try applyPending()
        return (c, spelled)
    }

    /// A setting's value as a JSON value (as its `Codable` form writes it).
    static func jsonValue(_ value: any SettingValue) -> Any {
        func encoded<T: Encodable>(_ v: T) -> Any {
            let data = (try? JSONText.encoder().encode([v])) ?? Data("[null]".utf8)
            return ((try? JSONSerialization.jsonObject(with: data)) as? [Any])?.first ?? NSNull()
        }
        return encoded(value)
    }

    /// `c.validate()`, with an error about a key that an option set (or a group holding it) naming
    /// that option as typed.
    /// - Throws: ``ConfigurationError``.
    static func validate<C: ConfigurationValue>(_ c: C, spelled: [String: String]) throws {
        do { try c.validate() } catch var error as ConfigurationError {
            if let key = error.key, let option = spelled[key] ?? spelled.sorted(by: { $0.key < $1.key }).first(where: { $0.key.hasPrefix(key + ".") })?.value {
                error.source = option
            }
            throw error
        }
    }

    /// The options' help: each option with its description, limits, default and key.
    static func help<C: ConfigurationValue>(_: C.Type, defaults: C = C()) -> String {
        SettingOptions(C.keys).help(defaults: defaults, heading: """
            Configuration options (each sets its key, as --set KEY=VALUE does for any key, dotted keys reaching into \
            objects; --print-config shows every key). --set and these options apply in command-line order, after \
            --config; each key may be given once:
            """)
    }
}

/// The option names (without dashes) of the command being run, as ArgumentParser declares them,
/// so that a mistyped option can be matched against them too (``SettingOptions/suggestion(for:)``).
enum CommandOptions {
    /// The names of the command parsed by ``Landscape/main()`` (empty before).
    nonisolated(unsafe) static var names: [String] = []

    /// The long option names of `command` (from ArgumentParser's description of it; hidden ones excluded).
    static func names(of command: any ParsableArguments.Type) -> [String] {
        guard let json = try? JSONSerialization.jsonObject(with: Data(command._dumpHelp().utf8)) as? [String: Any],
              let arguments = (json["command"] as? [String: Any])?["arguments"] as? [[String: Any]] else { return [] }
        return arguments.filter { ($0["shouldDisplay"] as? Bool) != false }.flatMap { ($0["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }.compactMap { $0["name"] as? String } }
    }
}
