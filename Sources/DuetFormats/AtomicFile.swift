import DuetCore
import Foundation

/// Writes files atomically: the bytes go to a temporary file in the destination's directory, which is then
/// renamed over the destination, so a reader never sees a half-written file and a failure leaves none behind.
public enum AtomicFile {
    /// Writes `data` to `path` atomically. Throws `DuetError` with the path on failure.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { handle in try handle.write(contentsOf: data) }
    }

    /// Writes a UTF-8 string to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Streams content into a temporary file through `body`, then renames it to `path`. If `body` throws, the
    /// temporary file is removed and the destination is left untouched.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw DuetError("cannot create \(path): directory \(directory) missing or not writable")
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            if let duet = error as? DuetError { throw duet }
            throw DuetError("cannot write \(path): \(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw DuetError("cannot write \(path): \(reason)")
        }
    }
}
