import Foundation

/// The memory of this machine, against which options are checked up front: an option whose
/// memory would exceed it is refused with the estimate in the message, instead of the command
/// running into the out-of-memory killer hours later.
public enum MachineMemory {
    /// Bytes of memory this process may use: the physical memory, or the limit of the cgroup
    /// mounted at `/sys/fs/cgroup` (`memory.max`, v2; `memory/memory.limit_in_bytes`, v1) when
    /// that is lower, as in a container. A limit set on a nested cgroup that is not this mount's
    /// root (a Slurm job step without its own cgroup namespace) is not read.
    public static let bytes: Double = {
        var limit = Double(ProcessInfo.processInfo.physicalMemory)
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let value = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0 {
                limit = min(limit, value)
            }
        }
        return limit
    }()

    /// `bytes` in GB or MB with three significant digits, e.g. "7.24 GB".
    public static func describe(_ bytes: Double) -> String {
        bytes >= 1e9 ? String(format: "%.3g GB", bytes / 1e9) : String(format: "%.3g MB", bytes / 1e6)
    }

    /// "WHAT needs about X, more than this machine's Y", or `nil` when `estimate` ≤ `available`.
    public static func excess(_ estimate: Double, for what: String, available: Double = bytes) -> String? {
        estimate <= available ? nil : "\(what) needs about \(describe(estimate)) of memory, more than this machine's \(describe(available))"
    }
}
