import Foundation
import Testing
import Checkpoints
@testable import Study
import Training

/// Issue 24, class 5: the study's files and configuration, read with errors that name the real cause.
@Suite struct StudyFileErrorTests {
    /// A copy of the cli-study fixture to work in.
    func copy() throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent("cli-study")
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: StudyFixtureTests.fixture, to: dir)
        return dir
    }

    @Test func aCSVTableWithCRLFOrCRLineEndsReadsAsWithLF() throws {
        // Before: "the header names the column '1' twice" (the whole file was one line).
        let lf = "model,regime,epoch\nmlp,high-noise,1\nmlp,high-noise,2\n"
        let expected = try CSVTable.parse(lf, path: "m.csv")
        #expect(expected.rows.count == 2)
        for text in [lf.replacingOccurrences(of: "\n", with: "\r\n"), lf.replacingOccurrences(of: "\n", with: "\r"), "model,regime,epoch\r\nmlp,high-noise,1\nmlp,high-noise,2"] {
            let table = try CSVTable.parse(text, path: "m.csv")
            #expect(table.columns == expected.columns && table.rows == expected.rows, "\(text.debugDescription)")
        }
        // A row's line number counts blank lines, whatever ends them.
        do { _ = try CSVTable.parse("a,b\r\n\r\n1,2,3\r\n", path: "m.csv"); Issue.record("accepted") } catch {
            #expect("\(error)" == "m.csv: line 3 has 3 fields, the header has 2")
        }
    }

    @Test func theReportOfAStudyWhoseCSVFilesHaveCRLFLineEndsIsTheSame() throws {
        let lf = try copy(), dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()); try? FileManager.default.removeItem(at: lf.deletingLastPathComponent()) }
        for name in ["metrics.csv", "final.csv", "spectra.csv", "layers.csv", "ggn-spectra.csv"] {
            let url = dir.appendingPathComponent(name)
            try Data(try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: url)
        }
        try StudyReport.generate(in: lf)
        let written = try StudyReport.generate(in: dir)
        #expect(written.count == 13)
        for url in written {
            let name = url.path.replacingOccurrences(of: dir.path + "/", with: "")
            #expect(try Data(contentsOf: url) == Data(contentsOf: lf.appendingPathComponent(name)), "\(name) differs")
        }
    }

    @Test(.timeLimit(.minutes(1))) func aStudyFileThatIsNoRegularFileIsNamedForWhatItIs() throws {
        // Before: "is missing or not readable UTF-8 text" for a directory, a FIFO and bad bytes alike.
        let dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let final = dir.appendingPathComponent("final.csv")
        try FileManager.default.removeItem(at: final)
        #expect(mkfifo(final.path, 0o600) == 0)
        do { _ = try StudyReport.generate(in: dir); Issue.record("a FIFO final.csv was read") } catch {
            #expect("\(error)" == "\(final.path): is a named pipe (FIFO), not a regular file (reading it would wait for a writer)")
        }
        let metrics = dir.appendingPathComponent("metrics.csv")
        try FileManager.default.removeItem(at: metrics)
        try FileManager.default.createDirectory(at: metrics, withIntermediateDirectories: false)
        do { _ = try StudyReport.generate(in: dir); Issue.record("a directory metrics.csv was read") } catch {
            #expect("\(error)" == "\(metrics.path): is a directory, not a file")
        }
        try FileManager.default.removeItem(at: metrics)
        try Data([0x61, 0x2C, 0x62, 0x0A, 0x31, 0xFF, 0x0A]).write(to: metrics)
        do { _ = try CSVTable.read(metrics); Issue.record("bytes that are not UTF-8 were read") } catch {
            #expect("\(error)" == "\(metrics.path): is not UTF-8 text: the bytes from offset 5 on are not valid UTF-8")
        }
        try FileManager.default.removeItem(at: metrics)
        do { _ = try CSVTable.read(metrics); Issue.record("a missing file was read") } catch {
            #expect("\(error)" == "\(metrics.path): does not exist")
        }
        #expect(try CSVTable.readIfPresent(metrics) == nil)
    }

    @Test func regimesThatShareKeyNamesAreNoRepeatedKeys() throws {
        let json = #"{"regimes": ["a", "b"], "regimeSettings": {"a": {"batchSize": 8}, "b": {"batchSize": 16}}}"#
        let c = try StudyConfiguration.decode(json: Data(json.utf8), source: "s.json")
        #expect(c.regimeSettings["a"]?.batchSize == 8 && c.regimeSettings["b"]?.batchSize == 16)
        // An entry and a key inside it both given: one of them would be lost.
        let both = #"{"regimeSettings": {"a": {"batchSize": 8}}, "regimeSettings.a.batchSize": 4, "regimes": ["a"]}"#
        do { _ = try StudyConfiguration.decode(json: Data(both.utf8), source: "s.json"); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "regimeSettings.a.batchSize" && error.problem.hasPrefix("is given twice, within 'regimeSettings' and as 'regimeSettings.a.batchSize'"), "\(error)")
        }
        let repeated = #"{"regimeSettings": {"a": {"batchSize": 8, "batchSize": 4}}, "regimes": ["a"]}"#
        do { _ = try StudyConfiguration.decode(json: Data(repeated.utf8), source: "s.json"); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "regimeSettings.a.batchSize" && error.problem.hasPrefix("appears twice"), "\(error)")
        }
    }
}
