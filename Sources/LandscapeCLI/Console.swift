import Foundation
import Training

/// Writes a line to standard error.
func stderrLine(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
/// Writes a line to standard output unbuffered (so rows appear at once in a log file).
func outLine(_ s: String) { FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!) }

/// An error that ends a command with a message and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
}

extension String {
    /// Right-aligns the string in a field of `width` characters.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// A console table of right-aligned columns separated by one space.
struct ConsoleTable {
    /// Column titles and widths.
    let columns: [(title: String, width: Int)]

    /// The header line.
    var header: String { row(columns.map(\.title)) }

    /// One line of cells (a cell wider than its column pushes the rest right).
    func row(_ cells: [String]) -> String {
        zip(cells, columns).map { $0.leftPadded($1.width) }.joined(separator: " ")
    }
}

/// A one-line progress bar on standard error (terminals only).
final class ProgressBar {
    let enabled: Bool
    var lastDraw = Date.distantPast

    /// A bar that draws only when `enabled` (and never unless standard error is a terminal).
    init(enabled: Bool) { self.enabled = enabled && isatty(STDERR_FILENO) == 1 }

    func update(_ p: StepProgress) {
        guard enabled, p.step == p.stepsInEpoch || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let width = 30
        let filled = Int(Double(width) * Double(p.step) / Double(max(p.stepsInEpoch, 1)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "\repoch %d %@ %d/%d steps  %.0f samples/s  ETA %.0fs ", p.epoch, bar as NSString,
                          p.step, p.stepsInEpoch, p.samplesPerSecond, p.secondsRemaining)
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    /// A free-form status in place of the bar (e.g. "row 3/25").
    func status(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write("\r\(text)".data(using: .utf8)!)
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write("\r\u{1B}[2K".data(using: .utf8)!)
    }
}
