import Foundation

/// Progress lines on standard output: on a terminal each line replaces the previous one (a live one-line display);
/// otherwise (a file, a pipe, a SLURM log, or any rank started by `mpirun`/`srun`, whose output the launcher
/// relays) every line is printed and flushed at once.
final class ProgressDisplay {
    private let live = isatty(STDOUT_FILENO) == 1
        && !["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_JOB_ID"].contains { ProcessInfo.processInfo.environment[$0] != nil }
    private var lineOpen = false

    /// Shows `line`.
    func show(_ line: String) {
        // Written unbuffered, so that a log file shows each line as soon as it is made.
        FileHandle.standardOutput.write(Data((live ? "\r\u{1B}[2K" + line : line + "\n").utf8))
        lineOpen = live
    }

    /// Ends the live line, so that what follows starts on a line of its own.
    func finish() {
        if lineOpen { FileHandle.standardOutput.write(Data("\n".utf8)) }
        lineOpen = false
    }
}
