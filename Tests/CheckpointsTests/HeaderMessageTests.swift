import Foundation
import Testing
@testable import Checkpoints

/// Issue 13, item 6: headers that Foundation calls "not valid JSON" or a type mismatch get the real reason.
@Suite struct HeaderMessageTests {
    @Test func invalidUTF8InAHeaderStringIsCalledNotUTF8() throws {
        // {"__metadata__":{"a":"<0xFF>"}}: the 0xFF byte is at offset 22 of the header.
        var header = Array(#"{"__metadata__":{"a":""#.utf8)
        #expect(header.count == 22)
        header += [0xFF] + Array(#""}}"#.utf8)
        var data = Data()
        var n = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        do {
            _ = try SafeTensors.parse(data, path: "bad.safetensors")
            Issue.record("invalid UTF-8 was accepted")
        } catch let error as CheckpointError {
            guard case .headerNotJSON = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("not UTF-8") && error.description.contains("offset 22"), "\(error)")
            #expect(!error.description.contains("Dictionary"), "\(error)")
        }
    }

    @Test func jsonNestedTooDeepIsCalledTooDeep() throws {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(JSONText.nestingDepth(Data(deep.utf8)) == 1000)
        #expect(JSONText.problem(in: Data(deep.utf8))?.contains("too deep: 1000 levels") == true)
        // Brackets inside strings do not count; the accepted limit itself is fine.
        #expect(JSONText.nestingDepth(Data(#"{"a":"[[[\"[[","b":[1]}"#.utf8)) == 2)
        let limit = String(repeating: "[", count: JSONText.maximumDepth) + String(repeating: "]", count: JSONText.maximumDepth)
        #expect(JSONText.problem(in: Data(limit.utf8)) == nil)
        #expect((try? JSONSerialization.jsonObject(with: Data(limit.utf8))) != nil)
        var data = Data()
        var n = UInt64(deep.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(deep.utf8))
        #expect(throws: CheckpointError.self) { try SafeTensors.parse(data) }
        do { _ = try SafeTensors.parse(data) } catch { #expect("\(error)".contains("too deep"), "\(error)") }
    }
}
