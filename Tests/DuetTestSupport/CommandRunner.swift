import Foundation

/// Test support shared by the test targets: runs the built `duet` executable, `mpirun` and the Python oracles in
/// `Tests/Oracles` as child processes, and locates the package and `../shared/data`. The `duet` binary is the one built next to the test bundle.
public enum CommandRunner {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static var sharedData: URL { packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data") }

    public static var duetExecutable: String {
        let candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                          Bundle.main.bundleURL.deletingLastPathComponent()]
        for directory in candidates {
            let path = directory.appendingPathComponent("duet").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return candidates[0].appendingPathComponent("duet").path
    }

    /// Runs `executable` with `arguments`. MPI variables inherited from a parent that was itself an MPI singleton
    /// make a child `mpirun` exit silently, so they are removed.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "ORTE_", "OPAL_"].contains { key.hasPrefix($0) }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs so neither fills up.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        group.wait()
        return Output(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs `duet` with `arguments`.
    public static func duet(_ arguments: [String], in directory: URL? = nil) throws -> Output {
        try run(duetExecutable, arguments, in: directory)
    }

    /// Runs `duet` under `mpirun` with `ranks` processes (as root and oversubscribed on small machines).
    public static func mpirunDuet(ranks: Int, _ arguments: [String], in directory: URL? = nil) throws -> Output {
        try run("/usr/bin/env", ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", duetExecutable]
                + arguments, in: directory)
    }

    /// Runs a Python oracle script from `Tests/Oracles`; a missing interpreter or module fails the test.
    public static func oracle(_ script: String, _ arguments: [String]) throws -> Output {
        let path = packageRoot.appendingPathComponent("Tests/Oracles/\(script)").path
        return try run("/usr/bin/env", ["python3", path] + arguments)
    }

    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("duet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
