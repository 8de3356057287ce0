import Checkpoints
import Foundation
import Settings
import Training

/// Options named after configuration keys: every key a configuration declares (``ConfigurationValue/keys``)
/// is also the option `--KEY` in kebab case (`--learning-rate 0.1`, `--nesterov`, `--no-nesterov`,
/// `--models mlp,cnn`), read from what ArgumentParser did not recognise (``ConfigurationOptions``)
/// and typed by the key's declaration. Messages name the option as the user typed it.
enum ConfigurationFlags {
    /// `base` with the key options in `arguments` laid over it, and for each key set, how it was typed.
    /// - Throws: ``SettingOptionError`` (an unknown option, a missing or mistyped value) or
    ///   ``ConfigurationError`` with the option as typed as its source.
    static func apply<C: ConfigurationValue>(_ arguments: [String], to base: C) throws -> (C, spelled: [String: String]) {
        var c = base
        var spelled: [String: String] = [:]
        for a in try SettingOptions(C.keys).parse(arguments) {
            spelled[a.key.name] = a.spelled
            // null for a key that is unset already (inside an optional group that is nil) leaves it so.
            if a.value.argumentText == "null", a.key.value(c).argumentText == "null" { continue }
            var nested = jsonValue(a.value)
            for k in a.key.name.split(separator: ".").reversed() { nested = [String(k): nested] }
            c = try c.merging(nested as? [String: Any] ?? [:], source: a.spelled)
        }
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

    /// The option (without dashes) of a key of `probe`'s settings (``TargetSettings/probeKeys``):
    /// `directions` → `sharpness-directions`.
    static func option(for key: String) -> String {
        SettingOptions(TargetSettings.probeKeys).key(named: key)?.option ?? SettingKey<TargetSettings>.kebab(key)
    }

    /// The options' help: each option with its description, limits, default and key.
    static func help<C: ConfigurationValue>(_: C.Type, defaults: C = C()) -> String {
        SettingOptions(C.keys).help(defaults: defaults, heading: "Configuration options (each sets its key, as --set KEY=VALUE does; --print-config shows every key):")
    }
}
