import Foundation
import Synchronization
import Training

/// Standard output and error as every command writes them. Console output is a convenience (each
/// result also goes to a file), so a write that fails — a full disk, a closed pipe — must not end
/// the command: the first failure on standard output is reported on standard error, later ones
/// and failures on standard error itself are dropped. (`FileHandle.write(_:)` traps on a failed
/// write; `SIGPIPE` is ignored in `Landscape.main` so that a closed pipe is an error, not a kill.)
enum Console {
    private static let failure = Mutex<Bool>(false)

    /// Writes all of `text` to file descriptor `fd` (unbuffered, so rows appear at once in a log
    /// file), retrying partial writes and `EINTR`.
    /// - Returns: `nil`, or the `errno` of the failed write.
    static func write(_ text: String, to fd: Int32) -> Int32? {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }  // no progress: give up rather than loop
            bytes = bytes.dropFirst(n)
        }
        return nil
    }

    /// Writes to standard output; the first failure is reported once on standard error.
    static func out(_ text: String) {
        guard let code = write(text, to: STDOUT_FILENO) else { return }
        let first = failure.withLock { failed in defer { failed = true }; return !failed }
        if first {
            _ = write("warning: standard output cannot be written (\(String(cString: strerror(code)))); the command goes on and writes its results to files\n", to: STDERR_FILENO)
        }
    }

    /// Writes to standard error, ignoring a failure (there is nowhere left to report it).
    static func err(_ text: String) { _ = write(text, to: STDERR_FILENO) }
}

/// Writes a line to standard error.
func stderrLine(_ s: String) { Console.err(s + "\n") }
/// Writes a line to standard output unbuffered (so rows appear at once in a log file).
func outLine(_ s: String) { Console.out(s + "\n") }

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
        Console.err(line)
    }

    /// A free-form status in place of the bar (e.g. "row 3/25").
    func status(_ text: String) {
        guard enabled else { return }
        Console.err("\r\(text)")
    }

    func clear() {
        guard enabled else { return }
        Console.err("\r\u{1B}[2K")
    }
}
