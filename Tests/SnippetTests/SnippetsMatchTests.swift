import Foundation
import Testing

/// Every ```swift block of the documents is code that a test compiles and runs.
///
/// The documents are every Markdown file of the package: README.md, Notes/*.md, the DocC articles
/// (`Sources/*/*.docc/**/*.md`) and any other.
/// A swift block must appear verbatim — after removing the common leading indentation and
/// trailing spaces — as a snippet of a Swift file in this folder: the lines between
/// `// snippet: NAME` and `// end snippet` inside a test function. Leading `import` lines of a
/// block (imports cannot stand inside a function) must be imports of the snippet's file. Every
/// snippet must be used by some document, so that none is tested but no longer shown.
/// Blocks of other languages (```sh, ```json, plain ```) are not checked.
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
        let unterminated = "func f() {\n    \(Self.begin) a\n    let x = 1\n}\n"
        #expect(SnippetCheck.problems(documents: [], snippetFiles: [("U.swift", unterminated)])
                == ["U.swift:2: snippet a has no `// end snippet`"])
        let twice = Self.snippetFile + "\n" + Self.snippetFile.replacingOccurrences(of: "example", with: "other")
        #expect(SnippetCheck.problems(documents: [("d.md", "```swift\nlet xs = [1, 2, 3]\nlet s = xs.reduce(0, +)   // 6\n```\n")],
                                      snippetFiles: [("T.swift", twice)]).contains("T.swift:15: a second snippet named sum"))
        #expect(SnippetCheck.problems(documents: [("d.md", "```swift\nlet x = 1\n")], snippetFiles: [])
                == ["d.md:1: the swift block is not closed", "d.md:1: the swift block is not a snippet of Tests/SnippetTests"])
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
        var result: [Snippet] = []
        var open: (name: String, line: Int, body: [String])?
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("// snippet:") {
                if let o = open { problems.append("\(file):\(o.line): snippet \(o.name) has no `// end snippet`") }
                open = (String(trimmed.dropFirst("// snippet:".count)).trimmingCharacters(in: .whitespaces), i + 1, [])
            } else if trimmed == "// end snippet" {
                guard let o = open else { problems.append("\(file):\(i + 1): `// end snippet` without `// snippet: NAME`"); continue }
                result.append(Snippet(name: o.name, file: file, line: o.line, lines: normalized(o.body), imports: imports))
                open = nil
            } else if open != nil {
                open!.body.append(line)
            }
        }
        if let o = open { problems.append("\(file):\(o.line): snippet \(o.name) has no `// end snippet`") }
        return result
    }

    /// The ```swift blocks of one document (fences may be indented, e.g. in a list).
    static func swiftBlocks(document: String, text: String, problems: inout [String]) -> [Block] {
        let lines = text.components(separatedBy: "\n")
        var result: [Block] = []
        var i = 0
        while i < lines.count {
            let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("```") else { i += 1; continue }
            let info = trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces)
            let start = i
            var end = i + 1
            while end < lines.count && !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("```") { end += 1 }
            if info.split(separator: " ").first == "swift" {
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
