import Foundation
import Training

/// Options named after configuration keys: every key of a ``ConfigurationValue`` is also the
/// option `--KEY` in kebab case (`--learning-rate 0.1`, `--nesterov`, `--no-nesterov`,
/// `--models mlp,cnn`), which is `--set KEY=VALUE`. So a key added to the configuration is an
/// option at once, with the same name, default and checks as in a configuration file.
enum ConfigurationFlags {
    /// Option names of earlier versions: option → key.
    static let aliases = ["data-dir": "dataDirectory", "lambda-samples": "probeSamples", "micro-batch": "microBatchSize"]

    /// The option of a key: its last component in kebab case (`learningRate` → `learning-rate`).
    static func option(for key: String) -> String {
        let name = key.split(separator: ".").last.map(String.init) ?? key
        return name.reduce(into: "") { out, c in
            if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
        }
    }

    /// The options of a configuration: option → the key's last component (resolved by ``ConfigurationValue/path(of:source:)``).
    static func options<C: ConfigurationValue>(_: C.Type) -> [String: String] {
        var table = aliases
        for path in C.keyPaths {
            let name = path.split(separator: ".").last.map(String.init) ?? path
            table[option(for: path)] = name
        }
        return table
    }

    /// `arguments` with every configuration option turned into `--set KEY=VALUE`: `--OPTION VALUE`,
    /// `--OPTION=VALUE`, and for a key holding true or false, `--OPTION` (true) and `--no-OPTION`
    /// (false). Everything else, and everything after `--`, is left as it is.
    static func rewrite<C: ConfigurationValue>(_ arguments: [String], for type: C.Type) -> [String] {
        let table = options(type)
        func isFlag(_ key: String) -> Bool {
            guard let path = try? C.path(of: key) else { return false }
            return C.expectedType(at: path).hasPrefix("true or false")   // also an optional flag ("true or false or null")
        }
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { out += arguments[i...]; break }
            guard a.hasPrefix("--") else { out.append(a); i += 1; continue }
            let body = String(a.dropFirst(2))
            let (name, inline) = body.firstIndex(of: "=").map { (String(body[..<$0]), String(body[body.index(after: $0)...])) } ?? (body, nil)
            if let key = table[name] {
                if let inline {
                    out += ["--set", "\(key)=\(inline)"]
                } else if isFlag(key) {
                    out += ["--set", "\(key)=true"]
                } else if i + 1 < arguments.count {
                    out += ["--set", "\(key)=\(arguments[i + 1])"]
                    i += 1
                } else {
                    out.append(a)
                }
            } else if name.hasPrefix("no-"), inline == nil, let key = table[String(name.dropFirst(3))], isFlag(key) {
                out += ["--set", "\(key)=false"]
            } else {
                out.append(a)
            }
            i += 1
        }
        return out
    }

    /// The options' help: each option, its key and its default (`--print-config` shows them all as JSON).
    static func help<C: ConfigurationValue>(_: C.Type) -> String {
        let defaults = C().jsonObject()
        let lines = C.keyPaths.map { path -> String in
            var node: Any? = defaults
            for k in path.split(separator: ".") { node = (node as? [String: Any])?[String(k)] }
            let shown: String
            switch node {
            case is NSNull, nil: shown = "null"
            case let s as String: shown = s
            case let v?:
                let json = (try? JSONSerialization.data(withJSONObject: [v], options: .sortedKeys)).map { String(decoding: $0, as: UTF8.self) } ?? "[?]"
                shown = String(json.dropFirst().dropLast())
            }
            let name = path.split(separator: ".").last.map(String.init) ?? path
            let owned = (try? C.path(of: name))?.joined(separator: ".") == path
            return owned ? "  --\(option(for: path)) (\(path), default \(shown))" : "  --set \(path)=… (default \(shown))"
        }
        return "Configuration options (each is --set KEY=VALUE for its key):\n" + lines.joined(separator: "\n")
    }
}
