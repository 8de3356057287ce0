import Foundation
import Testing
@testable import Checkpoints

/// The one reader of text files and its line rule; the JSON key check.
@Suite struct TextFileTests {
    @Test func linesEndAtLFCRLFAndCR() {
        #expect(TextFile.lines(of: "a\nb\r\nc\rd").lines == ["a", "b", "c", "d"])
        #expect(TextFile.lines(of: "a\nb\r\nc\rd").terminated == false)
        #expect(TextFile.lines(of: "a\r\n\r\nb\r\n") == (["a", "", "b"], true))
        #expect(TextFile.lines(of: "\n").lines == [""] && TextFile.lines(of: "\n").terminated)
        #expect(TextFile.lines(of: "").lines.isEmpty && !TextFile.lines(of: "").terminated)
        // A line end followed by a combining mark still ends the line.
        #expect(TextFile.lines(of: "a\n\u{301}b").lines == ["a", "\u{301}b"])
    }

    @Test func readNamesTheProblemAndKeepsTheText() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("textfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("t.txt")
        try Data([0xEF, 0xBB, 0xBF] + Array("é,1\r\n".utf8)).write(to: file)
        #expect(try TextFile.read(file) == "é,1\r\n")
        do { _ = try TextFile.read(file, maximumBytes: 4); Issue.record("read past the limit") } catch {
            #expect(error.problem == "is 9 bytes; at most 4 bytes are read from such a file")
        }
        let link = dir.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: dir.appendingPathComponent("gone").path)
        do { _ = try TextFile.read(link); Issue.record("read a broken link") } catch {
            #expect(error.problem == "is a symbolic link to a file that does not exist" && !error.isMissing)
        }
        do { _ = try TextFile.read(file.appendingPathComponent("x")); Issue.record("read below a file") } catch {
            #expect(error.problem == "cannot be read: a component of the path is not a directory")
        }
        #expect(try TextFile.readIfPresent(dir.appendingPathComponent("none")) == nil)
    }

    @Test func systemReasonsReplaceFoundationsWords() {
        do { try FileManager.default.createDirectory(atPath: "/dev/null/x", withIntermediateDirectories: true); Issue.record("created") } catch {
            #expect(SystemError.reason(of: error) == "not a directory", "\(error)")
        }
    }

    @Test func aRepeatedKeyIsFoundWithItsPath() {
        func key(_ json: String) -> [String]? { JSONText.duplicateKey(in: Data(json.utf8)) }
        #expect(key(#"{"a": 1, "b": {"c": 2}, "d": [1, {"e": 1}]}"#) == nil)
        #expect(key(#"{"a": 1, "a": 2}"#) == ["a"])
        #expect(key(#"{"a": {"b": 1}, "c": [0, {"d": 1, "d": 2}]}"#) == ["c", "1", "d"])
        #expect(key(#"{"a": "x\"a\":", "a\u0062": 1, "ab": 2}"#) == ["ab"])
        #expect(key(#"{"a": {"k": 1}, "b": {"k": 1}, "c": ["k", "k"]}"#) == nil)
        #expect(key(#"[{"a": 1}, {"a": 1}]"#) == nil)
    }
}
