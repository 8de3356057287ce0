import Foundation
import Testing
import Checkpoints

/// Issue 24, class 4, item 1: JSON has no NaN or infinity, so the JSON writer spells them
/// "nan", "inf" and "-inf" and keeps every other value.
@Suite struct JSONWriterTests {
    @Test func nonFiniteNumbersAreWrittenAsStringsAndTheRestIsKept() throws {
        let object: [String: Any] = ["nan": Double.nan, "list": [1.5, Double.infinity, -Double.infinity], "nested": ["float": Float.nan, "ok": 2.25],
                                     "count": 3, "name": "x", "none": NSNull()]
        let back = try #require(try JSONSerialization.jsonObject(with: JSONText.data(object)) as? [String: Any])
        #expect(back["nan"] as? String == "nan")
        let list = try #require(back["list"] as? [Any])
        #expect(list.count == 3 && list[0] as? Double == 1.5 && list[1] as? String == "inf" && list[2] as? String == "-inf", "\(list)")
        let nested = try #require(back["nested"] as? [String: Any])
        #expect(nested["float"] as? String == "nan" && nested["ok"] as? Double == 2.25)
        #expect(back["count"] as? Int == 3 && back["name"] as? String == "x" && back["none"] is NSNull)
    }

    struct Values: Codable, Equatable { var a = 0.1, b = -3.0, c = 1e300, n = 7 }
    struct Odd: Encodable { var x = Double.nan, y = -Double.infinity }

    @Test func theEncoderSpellsNonFiniteNumbersAndLeavesFiniteOnesAsBefore() throws {
        // Finite values encode byte for byte as with a plain encoder, so configuration SHA-256 sums do not change.
        let plain = JSONEncoder(), ours = JSONText.encoder()
        plain.outputFormatting = [.sortedKeys]; ours.outputFormatting = [.sortedKeys]
        #expect(try ours.encode(Values()) == plain.encode(Values()))
        #expect(String(decoding: try ours.encode(Odd()), as: UTF8.self) == #"{"x":"nan","y":"-inf"}"#)
    }

    @Test func numbersAreListedWithTheirKeyPaths() {
        let found = JSONText.numbers(in: ["a": ["b": [1.0, Double.nan]], "c": 2, "d": "text"] as [String: Any])
        #expect(found.map(\.path) == ["a.b.0", "a.b.1"])
        #expect(found[0].value == 1 && found[1].value.isNaN)
    }
}
