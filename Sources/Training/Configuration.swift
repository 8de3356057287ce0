import Checkpoints
import Foundation
import Settings

/// A configuration value that is invalid or cannot be read: where it came from, which key, and
/// what is wrong. Every configuration error of the package has this one form:
/// `SOURCE: 'KEY' PROBLEM`, e.g. `--set: 'training.optimizer.momentum' must be in [0, 1), got 1.5`.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Where the value came from: a file's path, `--set`, `the command line`, `the configuration`.
    public var source: String
    /// The dotted key (`training.optimizer.learningRate`), or `nil` for the input as a whole.
    public var key: String?
    /// What is wrong, in words (`must be positive and finite, got -1`).
    public var problem: String

    /// An error about `key` (or the whole input) from `source`.
    public init(source: String = "the configuration", key: String?, _ problem: String) {
        self.source = source
        self.key = key
        self.problem = problem
    }

    public var description: String { key.map { "\(source): '\($0)' \(problem)" } ?? "\(source): \(problem)" }

    /// Parses JSON text (any value at the top level), or says why it is not JSON: not UTF-8 or
    /// nested too deep (``/Checkpoints/JSONText/problem(in:)``), else the parser's own words with the position
    /// (`is not valid JSON: Invalid value around character 1.`; NaN and numbers beyond Double's
    /// range such as 1e400 are not JSON values either).
    /// - Throws: ``ConfigurationError`` naming `source`, without a key.
    public static func parsingJSON(_ data: Data, source: String) throws -> Any {
        if let problem = JSONText.problem(in: data) { throw ConfigurationError(source: source, key: nil, "cannot be read as JSON: \(problem)") }
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let words = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw ConfigurationError(source: source, key: nil, "is not valid JSON: \(words)")
        }
    }
}

/// A configuration: a `Codable` struct (synthesized) whose properties' initial values are its
/// defaults, written once. This protocol's extension gives every configuration the same file
/// format and the same command-line overlays:
///
/// - As JSON, every key is optional: the value read is the defaults (or a base such as a preset)
///   with the file's keys laid over them (``decode(json:source:base:)``); nested objects merge key
///   by key, and so do the entries of an *open object* (a map whose keys the user names, e.g. the
///   study's regimes). Unknown keys and values of the wrong type are errors naming the key.
/// - A key is its dotted path (`training.optimizer.momentum`) or, where that is unique, its last
///   component alone (`momentum`); so a flat file written by an older version reads as the nested
///   form (with ``renamedKeys`` for names that changed), and `--set momentum=0.95` works.
/// - `--print-config` prints ``jsonData()``: every key, unset optional ones as `null`.
/// - ``validate()`` checks the values once, where a configuration enters (decoding, a run store).
public protocol ConfigurationValue: Codable, Equatable, Sendable {
    /// The defaults.
    init()
    /// Dotted paths of open objects: maps from names the user chooses to values, whose entries
    /// merge one by one and whose keys are not configuration keys (``openObjectEntries``' keys).
    static var openObjects: Set<String> { get }
    /// What the entries of each open object hold: their keys and types, declared once.
    static var openObjectEntries: [String: SettingEntries] { get }
    /// Names of older versions and the names that replaced them (last components).
    static var renamedKeys: [String: String] { get }
    /// The keys that are also command-line options, each declared once with its type, help and
    /// limits (``/Settings/SettingKey``): options, help and the types in error messages come from here.
    static var keys: [SettingKey<Self>] { get }
    /// The keys of the JSON form that are not options: values the program records or derives
    /// (``TrainingConfiguration/initialParameters``, set by `train --from-checkpoint`; a study's
    /// `training.model` and `training.seed`). With ``keys`` they declare every key's type.
    static var recordedKeys: [SettingKey<Self>] { get }
    /// Checks every value.
    /// - Throws: ``ConfigurationError`` naming the first bad key.
    func validate() throws
}

/// A group of settings that a configuration holds as an optional property, `nil` by default
/// (e.g. ``TrainingConfiguration/stopping``): a configuration that does not set it has no such key
/// in its JSON, so configurations written before the group existed keep their SHA-256. Its keys
/// are keys of the configuration all the same (`stopping.trainAccuracy`, `--set trainAccuracy=…`,
/// the option `--train-accuracy`): setting one creates the group from ``init()``, and `null`
/// removes it.
public protocol OptionalSettingsGroup: Codable, Equatable, Sendable {
    /// The group with every key at its default, from which a key set alone starts.
    init()
}

extension ConfigurationValue {
    public static var openObjects: Set<String> { Set(openObjectEntries.keys) }
    public static var openObjectEntries: [String: SettingEntries] { [:] }
    public static var renamedKeys: [String: String] { [:] }
    public static var keys: [SettingKey<Self>] { [] }
    public static var recordedKeys: [SettingKey<Self>] { [] }

    // MARK: Keys

    /// The tree of every key: the defaults' JSON object, with each optional settings group
    /// (``OptionalSettingsGroup``) that is `nil` shown as an object of its keys.
    /// Built once per type (``KeyTreeCache``): every key lookup and merge reads it.
    static var template: [String: Any] { KeyTreeCache.shared.tree(of: Self.self) { Self().jsonObject(expandingGroups: true) } }

    /// Every key's dotted path, sorted: the leaves of the JSON tree (open objects count as leaves).
    public static var keyPaths: [String] {
        var out: [String] = []
        func walk(_ object: [String: Any], _ prefix: String) {
            for (k, v) in object {
                let path = prefix.isEmpty ? k : "\(prefix).\(k)"
                if let inner = v as? [String: Any], !openObjects.contains(path) { walk(inner, path) } else { out.append(path) }
            }
        }
        walk(template, "")
        return out.sorted()
    }

    /// The dotted path a key names: a path of the tree, a path inside an open object, or the
    /// unique last component of one (after ``renamedKeys``).
    /// - Throws: ``ConfigurationError`` for an unknown or ambiguous key.
    public static func path(of key: String, source: String = "the configuration") throws -> [String] {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { throw ConfigurationError(source: source, key: key, "is not a key (empty component)") }
        if template[parts[0]] != nil { return parts }
        let name = renamedKeys[parts[0]] ?? parts[0]
        let matches = keyPaths.filter { $0 == name || $0.hasSuffix(".\(name)") }
        guard matches.count == 1 else {
            if matches.isEmpty {
                throw ConfigurationError(source: source, key: key, "is not a configuration key; the keys are \(keyPaths.joined(separator: ", "))")
            }
            throw ConfigurationError(source: source, key: key, "is ambiguous: write \(matches.joined(separator: " or "))")
        }
        return matches[0].split(separator: ".").map(String.init) + parts.dropFirst()
    }

    // MARK: JSON

    /// The configuration as a JSON object: every key, unset optional ones as `NSNull`.
    public func jsonObject() -> [String: Any] { jsonObject(expandingGroups: false) }

    /// ``jsonObject()``: the synthesized encoder's object (the form that is hashed) with `null` for
    /// every declared key (``keys``, ``recordedKeys``, ``openObjectEntries`` in each entry) that it
    /// leaves out, a `nil` optional; with `expandingGroups` each `nil` optional settings group as
    /// an object of its keys, each `null` (the key tree, ``template``; not a value to decode).
    func jsonObject(expandingGroups: Bool) -> [String: Any] {
        var object = encodedJSON(self) as? [String: Any] ?? [:]
        func parts(_ name: String) -> [String] { name.split(separator: ".").map(String.init) }
        var paths = (Self.keys + Self.recordedKeys).map { parts($0.name) }
        for (open, entries) in Self.openObjectEntries {
            var node: Any? = object
            for k in parts(open) { node = (node as? [String: Any])?[k] }
            for name in (node as? [String: Any] ?? [:]).keys { paths += entries.keys.map { parts(open) + [name] + parts($0.name) } }
        }
        for path in paths { Self.insertNull(at: path, in: &object, expandingGroups: expandingGroups) }
        return object
    }

    /// Sets `null` at `path` where the encoder left the key out; where a group on the way is left
    /// out (an optional settings group that is `nil`), the group is `null`, or with
    /// `expandingGroups` an object of its keys.
    static func insertNull(at path: [String], in tree: inout [String: Any], expandingGroups: Bool) {
        guard let first = path.first else { return }
        if path.count > 1, tree[first] is [String: Any] || expandingGroups {
            var child = tree[first] as? [String: Any] ?? [:]
            insertNull(at: Array(path.dropFirst()), in: &child, expandingGroups: expandingGroups)
            tree[first] = child
        } else if tree[first] == nil {
            tree[first] = NSNull()
        }
    }

    /// The configuration as pretty-printed JSON with sorted keys (`config.json`, `--print-config`).
    /// - Throws: encoding errors (not expected).
    public func jsonData() throws -> Data {
        try JSONText.data(jsonObject())
    }

    /// Reads a configuration from a JSON file over `base`, and validates it.
    /// - Throws: ``ConfigurationError`` with the file's path as the source: a file that cannot be
    ///   read (``/Checkpoints/TextFile/read(_:maximumBytes:)``: missing, a directory, FIFO or device, not UTF-8,
    ///   …), is not a JSON object, names a key twice, or holds an unknown key or a bad value.
    public static func load(from url: URL, base: Self = Self()) throws -> Self {
        let text: String
        do { text = try TextFile.read(url) } catch { throw ConfigurationError(source: error.path, key: nil, error.problem) }
        return try decode(json: Data(text.utf8), source: url.path, base: base)
    }

    /// ``load(from:base:)`` for JSON bytes in memory; `source` names them in errors.
    /// - Throws: ``ConfigurationError``.
    public static func decode(json data: Data, source: String, base: Self = Self()) throws -> Self {
        if String(decoding: data, as: UTF8.self).allSatisfy(\.isWhitespace) {
            throw ConfigurationError(source: source, key: nil, "is empty; a configuration is a JSON object ({…}) of configuration keys")
        }
        let object = try ConfigurationError.parsingJSON(data, source: source)
        guard let dict = object as? [String: Any] else {
            throw ConfigurationError(source: source, key: nil, "must hold a JSON object ({…}) of configuration keys")
        }
        if let repeated = JSONText.duplicateKey(in: data) {
            throw ConfigurationError(source: source, key: repeated.joined(separator: "."), "appears twice in the same object; give each key once")
        }
        let merged = try base.merging(dict, source: source)
        do { try merged.validate() } catch var error as ConfigurationError {
            error.source = source
            throw error
        }
        return merged
    }

    /// This configuration with `overrides` laid over it, as a JSON file would be (not validated).
    /// Each value is checked against its key's declared type (``keys``, ``openObjectEntries``)
    /// before the one decode.
    /// - Throws: ``ConfigurationError`` (with `source`) for unknown keys and values of the wrong type.
    public func merging(_ overrides: [String: Any], source: String) throws -> Self {
        var assignments: [([String], Any)] = []
        var given: [String: String] = [:], enclosing: [String: String] = [:]   // path → the key that set it or a key inside it
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            let first = assignments.count
            let keyPath = try Self.path(of: key, source: source)
            try Self.flatten(value, at: keyPath, into: &assignments, source: source)
            // Two keys that set the same value (`momentum` and `optimizer.momentum`; an open
            // object's entry and a key inside it) would leave one of them silently unused.
            for (path, _) in assignments[first...] {
                let prefixes = (1..<path.count).map { path.prefix($0).joined(separator: ".") }
                let dotted = path.joined(separator: ".")
                let this = path == keyPath ? "as '\(key)'" : "within '\(key)'"
                if let other = given[dotted] ?? enclosing[dotted] ?? prefixes.lazy.compactMap({ given[$0] }).first {
                    throw ConfigurationError(source: source, key: dotted, "is given twice, \(other) and \(this); give it once")
                }
                given[dotted] = this
                for p in prefixes { enclosing[p] = this }
            }
        }
        var tree = jsonObject()
        for (path, value) in assignments {
            try Self.checkType(value, at: path, source: source)
            Self.assign(value, at: path, in: &tree)
        }
        return try Self.decodeTree(tree, source: source)
    }

    /// Sets one key from a command-line `KEY=VALUE` (`--set`, or an option named after a key).
    /// VALUE is read as JSON when it parses (numbers, true/false, null, lists, objects), else as the
    /// key's option reads it (``/Settings/SettingKey/parse``: `model=spec.json` reads the file), else as a
    /// string; for a key that holds a list, a string or a single number is split at commas
    /// (`models=mlp,cnn`, `seeds=0,1,2`, `seeds=5`), into numbers where the default list holds
    /// numbers. Not validated.
    /// - Throws: ``ConfigurationError`` for a malformed assignment, an unknown key or a value of the wrong type.
    public func setting(_ assignment: String, source: String = "--set") throws -> Self {
        guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
            throw ConfigurationError(source: source, key: nil, "expects KEY=VALUE, got '\(assignment)'")
        }
        let key = String(assignment[..<eq])
        let raw = String(assignment[assignment.index(after: eq)...])
        let path = try Self.path(of: key, source: source)
        var value: Any = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
        // Text that is not JSON, read as its key's option reads it (a model's specification file: `model=spec.json`).
        if value is String, let key = Self.keys.first(where: { $0.name == path.joined(separator: ".") }), let parsed = key.parse(raw) {
            value = encodedJSON(parsed)
        } else if value is String || value is NSNumber, let template = Self.templateValue(at: path) as? [Any] {
            let items = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            value = template.first is NSNumber ? items.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed])) as? NSNumber ?? $0 as Any } : items
        }
        var nested = value
        for k in path.reversed() { nested = [k: nested] }
        return try merging(nested as? [String: Any] ?? [:], source: "\(source) \(assignment)")
    }

    /// The value as it reads back from its own JSON (open objects merged with the defaults' entries).
    /// - Throws: ``ConfigurationError`` (not expected for a valid configuration).
    public func normalized() throws -> Self {
        try Self().merging(jsonObject(), source: "the configuration")
    }

    /// The keys whose values differ between the two configurations (dotted paths, sorted).
    public func differingKeys(from other: Self) -> [String] {
        func leaves(_ object: [String: Any], _ prefix: String, _ out: inout [String: Data]) {
            for (k, v) in object {
                let path = prefix.isEmpty ? k : "\(prefix).\(k)"
                if let inner = v as? [String: Any], !Self.openObjects.contains(path) { leaves(inner, path, &out) }
                else { out[path] = try? JSONSerialization.data(withJSONObject: [v], options: .sortedKeys) }
            }
        }
        var a: [String: Data] = [:], b: [String: Data] = [:]
        leaves(jsonObject(), "", &a)
        leaves(other.jsonObject(), "", &b)
        return Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }

    // MARK: Merging

    /// Splits `value` at `path` into assignments of leaves (or whole open-object entries),
    /// checking every key against the defaults' tree.
    static func flatten(_ value: Any, at path: [String], into out: inout [([String], Any)], source: String) throws {
        let dotted = path.joined(separator: ".")
        let template = templateValue(at: path)
        if let open = openObjects.first(where: { dotted == $0 || dotted.hasPrefix($0 + ".") }) {
            let depth = open.split(separator: ".").count
            if path.count == depth, let entries = value as? [String: Any] {
                for (name, entry) in entries.sorted(by: { $0.key < $1.key }) { try flatten(entry, at: path + [name], into: &out, source: source) }
                return
            }
            // An entry (or a key inside one): check its keys against the entries' declared keys.
            let entryKeys = Set(openObjectEntries[open]?.keys.compactMap { $0.name.split(separator: ".").first.map(String.init) } ?? [])
            if path.count == depth + 1, let inner = value as? [String: Any], !entryKeys.isEmpty {
                for k in inner.keys.sorted() where !entryKeys.contains(k) {
                    throw ConfigurationError(source: source, key: "\(dotted).\(k)", "is not a key of \(open) entries; they have \(entryKeys.sorted().joined(separator: ", "))")
                }
            } else if path.count == depth + 2, !entryKeys.isEmpty, !entryKeys.contains(path[depth + 1]) {
                throw ConfigurationError(source: source, key: dotted, "is not a key of \(open) entries; they have \(entryKeys.sorted().joined(separator: ", "))")
            } else if path.count > depth + 2 {
                throw ConfigurationError(source: source, key: dotted, "is not a configuration key")
            }
            out.append((path, value))
            return
        }
        guard let template else {
            throw ConfigurationError(source: source, key: dotted, "is not a configuration key; the keys are \(keyPaths.joined(separator: ", "))")
        }
        if template is [String: Any], let inner = value as? [String: Any] {
            for (k, v) in inner.sorted(by: { $0.key < $1.key }) { try flatten(v, at: path + [k], into: &out, source: source) }
        } else {
            out.append((path, value))
        }
    }

    /// The defaults' JSON value at `path`, or `nil` where there is none.
    static func templateValue(at path: [String]) -> Any? {
        var node: Any? = template
        for k in path { node = (node as? [String: Any])?[k] }
        return node
    }

    /// Sets `value` at `path` in a JSON tree; an object laid over an object (an open object's
    /// entry) merges with it key by key, at every depth (so `regimeSettings.R.stopping.trainLoss`
    /// keeps the entry's other keys and its stopping rule's other targets).
    static func assign(_ value: Any, at path: [String], in tree: inout [String: Any]) {
        guard let first = path.first else { return }
        if path.count == 1 {
            if let inner = value as? [String: Any], var existing = tree[first] as? [String: Any] {
                for (key, v) in inner { assign(v, at: [key], in: &existing) }
                tree[first] = existing
            } else {
                tree[first] = value
            }
            return
        }
        var child = tree[first] as? [String: Any] ?? [:]
        assign(value, at: Array(path.dropFirst()), in: &child)
        tree[first] = child
    }

    /// The declared type of the key at `path`: a key of ``keys`` or ``recordedKeys``, an open
    /// object's entry, or a key inside one (``openObjectEntries``); `nil` for a group, an open
    /// object, or an undeclared key.
    static func declaredType(at path: [String]) -> SettingType? {
        let dotted = path.joined(separator: ".")
        if let key = (keys + recordedKeys).first(where: { $0.name == dotted }) { return key.type }
        guard let (open, entries) = openObjectEntries.first(where: { dotted.hasPrefix($0.key + ".") }) else { return nil }
        let inner = path.dropFirst(open.split(separator: ".").count + 1).joined(separator: ".")
        return inner.isEmpty ? entries.value : entries.keys.first { $0.name == inner }?.type
    }

    /// The keys of the group at `path` (`optimizer`, an open object's entry, `stopping` in one),
    /// or `nil` where `path` is not a group.
    static func groupKeys(at path: [String]) -> [String]? {
        let dotted = path.joined(separator: ".")
        guard let (open, entries) = openObjectEntries.first(where: { dotted.hasPrefix($0.key + ".") }) else {
            return openObjects.contains(dotted) ? nil : (templateValue(at: path) as? [String: Any])?.keys.sorted()
        }
        let inner = path.dropFirst(open.split(separator: ".").count + 1)
        let names = entries.keys.map { $0.name.split(separator: ".").map(String.init) }.filter { $0.count > inner.count && $0.starts(with: inner) }
        return names.isEmpty ? nil : Set(names.map { $0[inner.count] }).sorted()
    }

    /// Checks `value` against the declared type of the key at `path`; an object given for a
    /// group or an open object, key by key.
    /// - Throws: ``ConfigurationError`` naming the key (a list's index or a map's name below it, if there).
    static func checkType(_ value: Any, at path: [String], source: String) throws {
        if let type = declaredType(at: path) {
            if let (subkey, problem) = type.problem(value) { throw ConfigurationError(source: source, key: (path + subkey).joined(separator: "."), problem) }
        } else if let object = value as? [String: Any] {
            for (k, v) in object.sorted(by: { $0.key < $1.key }) { try checkType(v, at: path + [k], source: source) }
        } else if !(value is NSNull), groupKeys(at: path) != nil || openObjects.contains(path.joined(separator: ".")) {
            throw ConfigurationError(source: source, key: path.joined(separator: "."), "must be \(expectedType(at: path))")
        }
    }

    /// Decodes a merged tree whose values ``checkType(_:at:source:)`` passed; what the decoder
    /// still refuses (`null` for a group that is not optional, a key without a declaration) is
    /// reported with its key and the type it expects.
    static func decodeTree(_ tree: [String: Any], source: String) throws -> Self {
        func path(_ c: DecodingError.Context) -> [String] { c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } }
        func key(_ c: DecodingError.Context) -> String? { c.codingPath.isEmpty ? nil : path(c).joined(separator: ".") }
        do { return try JSONDecoder().decode(Self.self, from: try JSONSerialization.data(withJSONObject: tree)) }
        catch let DecodingError.keyNotFound(k, c) { throw ConfigurationError(source: source, key: key(c), "lacks the key '\(k.stringValue)'") }
        catch let DecodingError.valueNotFound(_, c) { throw ConfigurationError(source: source, key: key(c), "must be \(expectedType(at: path(c))), not null") }
        catch DecodingError.typeMismatch(_, let c), DecodingError.dataCorrupted(let c) {
            throw ConfigurationError(source: source, key: key(c), "must be \(expectedType(at: path(c)))")
        }
    }

    /// What the key at `path` holds, in words ("an integer", "true or false", "one of mnist, fashion-mnist", …):
    /// its declared type (``keys``, ``openObjectEntries``), an element of a declared list or map,
    /// or an object of a group's keys.
    public static func expectedType(at path: [String]) -> String {
        if let type = declaredType(at: path) { return type.description }
        if path.count > 1, let element = declaredType(at: Array(path.dropLast()))?.elementDescription { return element }
        if let names = groupKeys(at: path) { return "an object of the group's keys (\(names.joined(separator: ", ")))" }
        return openObjects.contains(path.joined(separator: ".")) ? "an object" : "a value of the key's type"
    }
}

/// The key trees of configuration types (``ConfigurationValue/template``), one per type, built on
/// first use: a type's keys do not change while the program runs, and building the tree (encoding
/// the defaults, filling in their nulls) took a quarter of the time of planning a sweep.
final class KeyTreeCache: @unchecked Sendable {
    static let shared = KeyTreeCache()
    private let lock = NSLock()
    private var trees: [ObjectIdentifier: [String: Any]] = [:]

    func tree(of type: Any.Type, build: () -> [String: Any]) -> [String: Any] {
        if let tree = lock.withLock({ trees[ObjectIdentifier(type)] }) { return tree }
        let tree = build()
        lock.withLock { trees[ObjectIdentifier(type)] = tree }
        return tree
    }
}

/// A value's JSON object (or other JSON value) as the synthesized encoder writes it.
func encodedJSON(_ value: any Encodable) -> Any {
    let data = (try? JSONText.encoder().encode(value)) ?? Data("{}".utf8)
    return (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) ?? [String: Any]()
}
