import Foundation
import Testing

/// Every ```swift block of the documents is code that a test compiles and runs.
///
/// The documents are every Markdown file of the package: README.md, Notes/*.md, the DocC articles
/// (`Sources/*/*.docc/**/*.md`) and any other.
/// A swift block must appear verbatim — after removing the common leading indentation and
/// trailing spaces — as a snippet of a Swift file in this folder: the lines between
/// `// snippet: NAME` and `// end snippet` in the body of an `@Test func` (not a helper function,
/// a disabled test or suite, or code under `#if`), both markers in the same scope, so that the test
/// compiles and runs it. Leading `import` lines of a
/// block (imports cannot stand inside a function) must be imports of the snippet's file. Every
/// snippet must be used by some document, so that none is tested but no longer shown.
/// Swift blocks are fenced by ``` or ~~~ with the info string `swift` in any case (```Swift);
/// blocks of other languages (```sh, ```json, plain ```) are not checked.
@Suite struct SnippetsMatchTests {
    @Test func everySwiftBlockIsATestedSnippetAndEverySnippetIsShown() throws {
        let root = SnippetCheck.packageRoot
        let documents = try SnippetCheck.documentPaths(root: root).map { path in
            (name: path, text: try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8))
        }
        #expect(documents.contains { $0.name == "README.md" } && documents.contains { $0.name == "Notes/library.md" },
                "README.md or Notes/library.md not found under \(root.path)")
        let snippetFiles = try SnippetCheck.snippetFilePaths(root: root).map { path in
            (name: path, text: try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8))
        }
        let problems = SnippetCheck.problems(documents: documents, snippetFiles: snippetFiles)
        #expect(problems.isEmpty, "\n\(problems.joined(separator: "\n"))")
    }

    // The checker itself, on documents and snippet files written here.

    // The markers are assembled so that this file holds no snippet of its own.
    static let begin = "// snip" + "pet:"
    static let end = "// end snip" + "pet"
    static let snippetFile = """
        import Foundation
        import Testing

        @Test func example() {
            \(begin) sum
            let xs = [1, 2, 3]
            let s = xs.reduce(0, +)   // 6
            \(end)
            #expect(s == 6)
        }
        """

    @Test func aBlockEqualToASnippetAfterIndentationAndTrailingSpacesPasses() {
        let document = "# Title\n\n- a list item:\n\n  ```swift\n  import Foundation\n\n  let xs = [1, 2, 3]   \n  let s = xs.reduce(0, +)   // 6\n  ```\n"
        #expect(SnippetCheck.problems(documents: [("doc.md", document)], snippetFiles: [("S.swift", Self.snippetFile)]) == [])
    }

    @Test func aBlockThatDiffersByOneCharacterIsNamedWithItsDocumentAndLine() {
        let document = "# Title\n\ntext\n\n```swift\nlet xs = [1, 2, 4]\nlet s = xs.reduce(0, +)   // 6\n```\n"
        let problems = SnippetCheck.problems(documents: [("doc.md", document)], snippetFiles: [("S.swift", Self.snippetFile)])
        #expect(problems.count == 2, "\(problems)")   // the block, and the snippet it no longer shows
        #expect(problems.first?.hasPrefix("doc.md:5: ") == true, "\(problems)")
        #expect(problems.first?.contains("snippet sum") == true && problems.first?.contains("let xs = [1, 2, 4]") == true, "\(problems)")
        #expect(problems.last?.hasPrefix("S.swift:5: snippet sum is used by no document") == true, "\(problems)")
    }

    @Test func aSnippetUsedByNoDocumentAndAnUnknownImportAreReported() {
        let unused = SnippetCheck.problems(documents: [("doc.md", "no code\n```sh\nls\n```\n")],
                                           snippetFiles: [("S.swift", Self.snippetFile)])
        #expect(unused == ["S.swift:5: snippet sum is used by no document"])
        let document = "```swift\nimport Probes\nlet xs = [1, 2, 3]\nlet s = xs.reduce(0, +)   // 6\n```\n"
        let imports = SnippetCheck.problems(documents: [("doc.md", document)], snippetFiles: [("S.swift", Self.snippetFile)])
        #expect(imports == ["doc.md:1: `import Probes` is not an import of S.swift, which holds snippet sum"])
    }

    @Test func malformedSnippetFilesAreReported() {
        let unterminated = "@Test func f() {\n    \(Self.begin) a\n    let x = 1\n}\n"
        #expect(SnippetCheck.problems(documents: [], snippetFiles: [("U.swift", unterminated)])
                == ["U.swift:2: snippet a has no `// end snippet`"])
        let twice = Self.snippetFile + "\n" + Self.snippetFile.replacingOccurrences(of: "example", with: "other")
        #expect(SnippetCheck.problems(documents: [("d.md", "```swift\nlet xs = [1, 2, 3]\nlet s = xs.reduce(0, +)   // 6\n```\n")],
                                      snippetFiles: [("T.swift", twice)]).contains("T.swift:15: a second snippet named sum"))
        #expect(SnippetCheck.problems(documents: [("d.md", "```swift\nlet x = 1\n")], snippetFiles: [])
                == ["d.md:1: the swift block is not closed", "d.md:1: the swift block is not a snippet of Tests/SnippetTests"])
    }
}

extension SnippetsMatchTests {
    /// The problems of `file` holding snippet `sum` (shown by a document) at the place `file` puts it.
    static func problems(ofSnippetIn file: String) -> [String] {
        SnippetCheck.problems(documents: [("doc.md", "```swift\nlet xs = [1, 2, 3]\nlet s = xs.reduce(0, +)   // 6\n```\n")],
                              snippetFiles: [("S.swift", file)])
    }

    static let body = "    \(begin) sum\n    let xs = [1, 2, 3]\n    let s = xs.reduce(0, +)   // 6\n    \(end)\n"

    @Test func aSnippetInAHelperFunctionOrNestedFunctionIsReported() {
        let helper = "import Testing\n\nfunc helper() {\n\(Self.body)}\n\n@Test func t() { helper() }\n"
        #expect(Self.problems(ofSnippetIn: helper) == ["S.swift:4: snippet sum is inside `helper` (line 3), which is not an @Test func"])
        let nested = "@Test func t() {\n    func inner() {\n\(Self.body)    }\n}\n"
        #expect(Self.problems(ofSnippetIn: nested) == ["S.swift:3: snippet sum is inside `inner` (line 2), which is not an @Test func"])
        let member = "struct S {\n    static let x = 1\n\(Self.body)}\n"
        #expect(Self.problems(ofSnippetIn: member) == ["S.swift:3: snippet sum is not inside a function (it is directly in `S`)"])
    }

    @Test func aSnippetUnderIfOrInADisabledTestOrSuiteIsReported() {
        let hidden = "@Test func t() {\n#if false\n\(Self.body)#endif\n}\n"
        #expect(Self.problems(ofSnippetIn: hidden) == ["S.swift:3: snippet sum is inside `#if false`, which the tests may not compile"])
        let elseBranch = "#if DEBUG\n#else\n@Test func t() {\n\(Self.body)}\n#endif\n"
        #expect(Self.problems(ofSnippetIn: elseBranch) == ["S.swift:4: snippet sum is inside `#else`, which the tests may not compile"])
        let disabled = "@Test(.disabled(\"slow\"))\nfunc t() {\n\(Self.body)}\n"
        #expect(Self.problems(ofSnippetIn: disabled) == ["S.swift:3: snippet sum is inside the disabled test `t` (line 2)"])
        let suite = "@Suite(.disabled()) struct T {\n    @Test func t() {\n\(Self.body)    }\n}\n"
        #expect(Self.problems(ofSnippetIn: suite) == ["S.swift:3: snippet sum is inside the disabled suite `T` (line 1)"])
    }

    @Test func aSnippetInATestOrItsClosuresPassesWhateverBracesStringsAndCommentsHold() {
        // Braces in strings (with interpolation, multi-line, raw) and comments are not code.
        let file = "@Suite struct T {\n    static let s = \"}}\\(\"{\")\"\n    /* } { */\n    @Test(\"a { name\") func t() throws {\n"
            + "        let m = \"\"\"\n        }\n        \"\"\"\n        let r = #\"}\\\"#   // }\n        try [1].forEach { _ in\n"
            + Self.body + "        }\n    }\n}\n"
        #expect(Self.problems(ofSnippetIn: file) == [])
        let across = "@Test func t() {\n    \(Self.begin) sum\n    let xs = [1, 2, 3]\n    do {\n    let s = xs.reduce(0, +)   // 6\n    \(Self.end)\n    }\n}\n"
        #expect(Self.problems(ofSnippetIn: across).contains("S.swift:6: snippet sum ends in another scope than it begins (line 2)"))
    }

    @Test func capitalizedAndTildeFencedSwiftBlocksAreChecked() {
        for fence in ["```Swift", "~~~swift", "````SWIFT"] {
            let close = fence.hasPrefix("~") ? "~~~" : String(fence.prefix { $0 == "`" })
            let document = "text\n\n\(fence)\nlet x = 1\n```\nstill inside a tilde block\n\(close)\n"
            let problems = SnippetCheck.problems(documents: [("doc.md", document)], snippetFiles: [])
            #expect(problems == ["doc.md:3: the swift block is not a snippet of Tests/SnippetTests"], "\(fence): \(problems)")
        }
        #expect(SnippetCheck.problems(documents: [("doc.md", "~~~sh\nls\n~~~\n``swift\n")], snippetFiles: []) == [])
    }
}

/// The snippet check: snippets of Swift files, swift blocks of documents, and what does not match.
enum SnippetCheck {
    /// The package root, from this file's path (Tests/SnippetTests/…).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Snippet { let name: String, file: String, line: Int, lines: [String], imports: Set<String> }
    struct Block { let document: String, line: Int, lines: [String] }

    /// Every Markdown file under `root` (README.md, Notes/, the DocC articles `Sources/*/*.docc/**/*.md`,
    /// …), relative to `root`, sorted; hidden directories (.build, .git) are skipped.
    static func documentPaths(root: URL) throws -> [String] {
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isDirectoryKey],
                                                        options: [.skipsHiddenFiles]) else { return [] }
        let prefix = root.standardizedFileURL.path + "/"
        var paths: [String] = []
        for case let url as URL in walk where url.pathExtension == "md" {
            let path = url.standardizedFileURL.path
            if path.hasPrefix(prefix) { paths.append(String(path.dropFirst(prefix.count))) }
        }
        return paths.sorted()
    }

    /// The Swift files of Tests/SnippetTests, relative to `root`, sorted.
    static func snippetFilePaths(root: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Tests/SnippetTests").path)
            .filter { $0.hasSuffix(".swift") }.sorted().map { "Tests/SnippetTests/\($0)" }
    }

    /// `lines` without trailing spaces and tabs, and without the leading indentation they all
    /// share (blank lines do not count), and without leading and trailing blank lines.
    static func normalized<S: StringProtocol>(_ lines: [S]) -> [String] {
        var out = lines.map { line -> String in
            var s = Substring(line)
            while let last = s.last, last == " " || last == "\t" || last == "\r" { s.removeLast() }
            return String(s)
        }
        while out.first?.isEmpty == true { out.removeFirst() }
        while out.last?.isEmpty == true { out.removeLast() }
        let indent = out.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return out.map { $0.isEmpty ? $0 : String($0.dropFirst(indent)) }
    }

    /// The snippets of one Swift file; malformed markers go to `problems`.
    static func snippets(file: String, text: String, problems: inout [String]) -> [Snippet] {
        let lines = text.components(separatedBy: "\n")
        let imports = Set(lines.filter { $0.hasPrefix("import ") || $0.hasPrefix("@testable import ") }
                               .map { $0.replacingOccurrences(of: "@testable ", with: "").trimmingCharacters(in: .whitespaces) })
        let contexts = SwiftStructure.lineContexts(lines)
        var result: [Snippet] = []
        var open: (name: String, line: Int, body: [String])?
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("// snippet:") {
                if let o = open { problems.append("\(file):\(o.line): snippet \(o.name) has no `// end snippet`") }
                let name = String(trimmed.dropFirst("// snippet:".count)).trimmingCharacters(in: .whitespaces)
                open = (name, i + 1, [])
                if let problem = contexts[i].whyNotRunByATest() {
                    problems.append("\(file):\(i + 1): snippet \(name) \(problem)")
                }
            } else if trimmed == "// end snippet" {
                guard let o = open else { problems.append("\(file):\(i + 1): `// end snippet` without `// snippet: NAME`"); continue }
                if contexts[i].scopes.map(\.line) != contexts[o.line - 1].scopes.map(\.line) {
                    problems.append("\(file):\(i + 1): snippet \(o.name) ends in another scope than it begins (line \(o.line))")
                }
                result.append(Snippet(name: o.name, file: file, line: o.line, lines: normalized(o.body), imports: imports))
                open = nil
            } else if open != nil {
                open!.body.append(line)
            }
        }
        if let o = open { problems.append("\(file):\(o.line): snippet \(o.name) has no `// end snippet`") }
        return result
    }

    /// The swift blocks of one document (fences may be indented, e.g. in a list). A fence is three
    /// or more backticks or tildes (CommonMark); the block ends at a fence of the same character at
    /// least as long, and it is Swift when the info string's first word is `swift` in any case.
    static func swiftBlocks(document: String, text: String, problems: inout [String]) -> [Block] {
        let lines = text.components(separatedBy: "\n")
        var result: [Block] = []
        var i = 0
        while i < lines.count {
            let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
            guard let mark = trimmed.first, mark == "`" || mark == "~" else { i += 1; continue }
            let fence = trimmed.prefix { $0 == mark }.count
            guard fence >= 3 else { i += 1; continue }
            let info = trimmed.dropFirst(fence).trimmingCharacters(in: .whitespaces)
            let start = i
            var end = i + 1
            func closes(_ line: String) -> Bool {
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.prefix { $0 == mark }.count >= fence && t.drop { $0 == mark }.isEmpty
            }
            while end < lines.count && !closes(lines[end]) { end += 1 }
            if info.split(separator: " ").first?.lowercased() == "swift" {
                if end == lines.count { problems.append("\(document):\(start + 1): the swift block is not closed") }
                result.append(Block(document: document, line: start + 1, lines: normalized(Array(lines[(start + 1)..<end]))))
            }
            i = end + 1
        }
        return result
    }

    /// Every problem, one line each: "FILE:LINE: what is wrong".
    static func problems(documents: [(name: String, text: String)], snippetFiles: [(name: String, text: String)]) -> [String] {
        var problems: [String] = []
        var snippets: [Snippet] = []
        for file in snippetFiles {
            for s in Self.snippets(file: file.name, text: file.text, problems: &problems) {
                if snippets.contains(where: { $0.name == s.name }) {
                    problems.append("\(s.file):\(s.line): a second snippet named \(s.name)")
                } else {
                    snippets.append(s)
                }
            }
        }
        var used = Set<String>()
        for document in documents {
            for block in swiftBlocks(document: document.name, text: document.text, problems: &problems) {
                // Leading imports (and the blank lines after them) are checked against the snippet's file.
                var body = block.lines[...]
                var imports: [String] = []
                while let first = body.first, first.hasPrefix("import ") || (first.isEmpty && !imports.isEmpty) {
                    if !first.isEmpty { imports.append(first) }
                    body.removeFirst()
                }
                let code = Array(body)
                guard let snippet = snippets.first(where: { $0.lines == code }) else {
                    problems.append(mismatch(block, code: code, snippets: snippets))
                    continue
                }
                used.insert(snippet.name)
                for i in imports where !snippet.imports.contains(i) {
                    problems.append("\(block.document):\(block.line): `\(i)` is not an import of \(snippet.file), which holds snippet \(snippet.name)")
                }
            }
        }
        for s in snippets where !used.contains(s.name) {
            problems.append("\(s.file):\(s.line): snippet \(s.name) is used by no document")
        }
        return problems
    }

    /// A block that is no snippet, with the closest snippet (most equal lines) and their first difference.
    static func mismatch(_ block: Block, code: [String], snippets: [Snippet]) -> String {
        let head = "\(block.document):\(block.line): the swift block is not a snippet of Tests/SnippetTests"
        func shared(_ s: Snippet) -> Int { Set(s.lines).intersection(code).count }
        guard let closest = snippets.max(by: { shared($0) < shared($1) }), shared(closest) > 0 else { return head }
        let k = zip(code, closest.lines).prefix { $0 == $1 }.count
        let documentLine = k < code.count ? "`\(code[k])`" : "(end of block)"
        let snippetLine = k < closest.lines.count ? "`\(closest.lines[k])`" : "(end of snippet)"
        return head + " (closest: snippet \(closest.name) in \(closest.file); first difference at its line \(k + 1): block \(documentLine), snippet \(snippetLine))"
    }
}

/// Just enough of a Swift file's structure to tell whether a line runs as part of a test: the
/// braces open at each line (with the declaration that opened each) and the `#if` regions around it.
/// Comments and string literals (with interpolations, multi-line and raw strings) are skipped, so
/// braces in them do not count.
enum SwiftStructure {
    /// An open brace: the line it is on, and what it opens.
    struct Scope: Equatable {
        enum Kind: Equatable {
            /// A function, initializer or accessor; `test` for an `@Test` function, `disabled` for
            /// an `@Test(.disabled(…))` one.
            case function(name: String, test: Bool, disabled: Bool)
            /// A type or extension; `disabled` for `@Suite(.disabled(…))`.
            case type(name: String, disabled: Bool)
            /// A closure or a control-flow body (`if`, `for`, `do`, …): it runs as part of its function.
            case body
        }
        let line: Int
        let kind: Kind
    }

    /// The structure at the start of one line.
    struct LineContext {
        /// The open braces, outermost first.
        let scopes: [Scope]
        /// The conditions of the `#if`/`#elseif`/`#else` regions around the line, outermost first.
        let conditions: [String]

        /// Why code on this line is not run by a test, or `nil` when it is: the innermost enclosing
        /// function must be an enabled `@Test func` in no disabled suite, and no `#if` may surround it.
        func whyNotRunByATest() -> String? {
            if let condition = conditions.last { return "is inside `\(condition)`, which the tests may not compile" }
            for scope in scopes.reversed() {
                switch scope.kind {
                case .body: continue
                case .type(let name, _):
                    return "is not inside a function (it is directly in `\(name)`)"
                case .function(let name, let test, let disabled):
                    if !test { return "is inside `\(name)` (line \(scope.line)), which is not an @Test func" }
                    if disabled { return "is inside the disabled test `\(name)` (line \(scope.line))" }
                    if let suite = scopes.first(where: { if case .type(_, true) = $0.kind { true } else { false } }),
                       case .type(let suiteName, _) = suite.kind {
                        return "is inside the disabled suite `\(suiteName)` (line \(suite.line))"
                    }
                    return nil
                }
            }
            return "is not inside a function"
        }
    }

    private enum Mode { case code, string(multiline: Bool, hashes: Int), interpolation(parentheses: Int), blockComment(depth: Int) }

    /// The context at the start of each of `lines`.
    static func lineContexts(_ lines: [String]) -> [LineContext] {
        var contexts: [LineContext] = []
        var scopes: [Scope] = []
        var conditions: [String] = []
        var modes: [Mode] = [.code]
        var header = ""   // the code since the last brace: the declaration a `{` opens
        for (number, line) in lines.enumerated() {
            contexts.append(LineContext(scopes: scopes, conditions: conditions))
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if case .code = modes.last!, trimmed.hasPrefix("#") {
                let words = trimmed.split(separator: " ", maxSplits: 1)
                switch words.first {
                case "#if": conditions.append(trimmed); continue
                case "#elseif", "#else":
                    if !conditions.isEmpty { conditions[conditions.count - 1] = trimmed }
                    continue
                case "#endif": _ = conditions.popLast(); continue
                default: break
                }
            }
            let c = Array(line)
            var j = 0
            func at(_ s: String) -> Bool {
                let t = Array(s)
                return j + t.count <= c.count && Array(c[j..<(j + t.count)]) == t
            }
            while j < c.count {
                switch modes.last! {
                case .blockComment(let depth):
                    if at("*/") { modes.removeLast(); if depth > 1 { modes.append(.blockComment(depth: depth - 1)) }; j += 2 }
                    else if at("/*") { modes[modes.count - 1] = .blockComment(depth: depth + 1); j += 2 }
                    else { j += 1 }
                case .string(let multiline, let hashes):
                    let pounds = String(repeating: "#", count: hashes)
                    if at("\\" + pounds) {
                        j += 1 + hashes
                        if j < c.count && c[j] == "(" { modes.append(.interpolation(parentheses: 1)) }
                        j += 1
                    } else if at((multiline ? "\"\"\"" : "\"") + pounds) {
                        modes.removeLast(); j += (multiline ? 3 : 1) + hashes
                    } else { j += 1 }
                case .code, .interpolation:
                    if at("//") { j = c.count; continue }
                    if at("/*") { modes.append(.blockComment(depth: 1)); j += 2; continue }
                    let hashes = c[j...].prefix { $0 == "#" }.count
                    if j + hashes < c.count && c[j + hashes] == "\"" {
                        let multiline = j + hashes + 2 < c.count && c[j + hashes + 1] == "\"" && c[j + hashes + 2] == "\""
                        modes.append(.string(multiline: multiline, hashes: hashes))
                        j += hashes + (multiline ? 3 : 1)
                        header += "\"\""
                        continue
                    }
                    let ch = c[j]
                    if case .interpolation(let p) = modes.last! {
                        if ch == "(" { modes[modes.count - 1] = .interpolation(parentheses: p + 1) }
                        if ch == ")" {
                            if p == 1 { modes.removeLast(); j += 1; continue }
                            modes[modes.count - 1] = .interpolation(parentheses: p - 1)
                        }
                    }
                    if ch == "{" {
                        scopes.append(Scope(line: number + 1, kind: kind(of: header)))
                        header = ""
                    } else if ch == "}" {
                        _ = scopes.popLast()
                        header = ""
                    } else {
                        header.append(ch)
                    }
                    j += 1
                }
            }
            // A single-line string cannot continue on the next line.
            while let last = modes.last, case .string(let multiline, _) = last, !multiline { modes.removeLast() }
            header.append("\n")
        }
        return contexts
    }

    /// What a `{` opens, from the code before it (back to the previous brace).
    static func kind(of header: String) -> Scope.Kind {
        // The declaration the brace belongs to starts at its last declaration keyword; the
        // attributes before it on its line and on the lines just above (those starting with `@`).
        let lines = header.components(separatedBy: "\n")
        let keywords = ["func", "init", "deinit", "subscript", "get", "set", "willSet", "didSet",
                        "struct", "class", "enum", "extension", "actor", "protocol"]
        for index in lines.indices.reversed() {
            let words = lines[index].split { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "@" || $0 == "." || $0 == "(") }
            guard let k = words.lastIndex(where: { w in keywords.contains { w == $0 || w.hasPrefix($0 + "(") } }) else { continue }
            let keyword = String(words[k].prefix { $0.isLetter })
            var attributes = lines[index]
            var above = index - 1
            while above >= 0, lines[above].trimmingCharacters(in: .whitespaces).hasPrefix("@") {
                attributes = lines[above] + "\n" + attributes
                above -= 1
            }
            let disabled = attributes.contains(".disabled")
            let name = k + 1 < words.count ? String(words[k + 1].prefix { $0 != "(" }) : keyword
            switch keyword {
            case "struct", "class", "enum", "extension", "actor", "protocol":
                return .type(name: name, disabled: disabled)
            default:
                let test = attributes.range(of: #"@Test\b"#, options: .regularExpression) != nil
                return .function(name: keyword == "func" ? name : keyword, test: test, disabled: disabled)
            }
        }
        return .body
    }
}
