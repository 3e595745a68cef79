import Foundation

/// Test support shared by the test targets: runs the built `duet` executable, `mpirun` and the Python oracles in
/// `Tests/Oracles` as child processes, and locates the package and its fixtures (`Tests/Fixtures`). The `duet` binary is the one built next to the test bundle.
public enum CommandRunner {
    public struct Output: Sendable {
        /// The exit status, or the signal number when `signalled`.
        public let status: Int32
        /// True when the process was killed by a signal.
        public var signalled = false
        /// The raw bytes the command wrote to stdout (for binary or JSON output).
        public let stdoutData: Data
        public let stderr: String
        public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    }

    /// Why a Python child process gave no usable answer; `description` says what is missing or what failed.
    public struct PythonError: Error, CustomStringConvertible {
        public enum Reason: Sendable { case cannotStart, pythonNotFound, moduleMissing, scriptFailed, badOutput }
        public let reason: Reason
        public let description: String
    }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `Tests/Fixtures`: the real files from other projects that prove compatibility (see its README.md and each
    /// folder's PROVENANCE.md).
    public static var fixtures: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

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
        return Output(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                      stdoutData: outData, stderr: String(decoding: errData, as: UTF8.self))
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

    /// The path of a Python oracle script in `Tests/Oracles`.
    public static func oraclePath(_ script: String) -> String {
        packageRoot.appendingPathComponent("Tests/Oracles/\(script)").path
    }

    /// Runs a Python oracle script from `Tests/Oracles`; a missing interpreter or module fails the test.
    public static func oracle(_ script: String, _ arguments: [String]) throws -> Output {
        try run("/usr/bin/env", ["python3", oraclePath(script)] + arguments)
    }

    /// Runs `python3 arguments...` (the first argument is normally a script) and returns its output when the exit
    /// status is in `accepting`. Otherwise throws a `PythonError` whose message names what is missing, so the
    /// calling test fails (never skips): python3 itself (`/usr/bin/env` exits 127), a Python module
    /// (`ModuleNotFoundError` / `No module named` in stderr, or status 3, which the `Tests/Oracles` scripts use
    /// when an import fails), or the script (its status and stderr). `needs` says what the tests need, with the
    /// install hint, e.g. "python3 with numpy (pip install numpy)". Both pipes are drained while python runs.
    public static func pythonOutput(_ arguments: [String], needs: String, accepting: Set<Int32> = [0],
                                    in directory: URL? = nil) throws -> Output {
        let output: Output
        do {
            output = try run("/usr/bin/env", ["python3"] + arguments, in: directory)
        } catch {
            throw PythonError(reason: .cannotStart,
                              description: "cannot start /usr/bin/env python3 (\(error)): these tests need \(needs)")
        }
        if accepting.contains(output.status) { return output }
        let stderr = output.stderr
        if output.status == 127 {
            throw PythonError(reason: .pythonNotFound,
                              description: "python3 not found on PATH (/usr/bin/env exited 127): these tests need "
                                  + "\(needs). \(stderr)")
        }
        if output.status == 3 || stderr.contains("ModuleNotFoundError") || stderr.contains("No module named") {
            throw PythonError(reason: .moduleMissing,
                              description: "a Python module is missing: these tests need \(needs). \(stderr)")
        }
        throw PythonError(reason: .scriptFailed,
                          description: "python3 \(commandLine(arguments)) failed (status \(output.status)): \(stderr)")
    }

    /// Runs `python3 arguments...` and returns its stdout; throws a `PythonError` as `pythonOutput` does unless it
    /// exits 0.
    @discardableResult
    public static func python(_ arguments: [String], needs: String, in directory: URL? = nil) throws -> Data {
        try pythonOutput(arguments, needs: needs, in: directory).stdoutData
    }

    /// Runs `python3 arguments...` and returns the JSON object it prints; throws a `PythonError` as `python` does,
    /// or when stdout is not one JSON object.
    public static func pythonJSONObject(_ arguments: [String], needs: String,
                                        in directory: URL? = nil) throws -> [String: Any] {
        let data = try python(arguments, needs: needs, in: directory)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any]
        else {
            throw PythonError(reason: .badOutput, description: "python3 \(commandLine(arguments)) printed no JSON "
                                  + "object: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return dictionary
    }

    /// The script and first arguments of a python3 command line, shortened for messages.
    private static func commandLine(_ arguments: [String]) -> String {
        guard let first = arguments.first else { return "" }
        let shown = [(first as NSString).lastPathComponent] + arguments.dropFirst().prefix(3)
        return shown.joined(separator: " ") + (arguments.count > 4 ? " … (\(arguments.count - 4) more)" : "")
    }

    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("duet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
