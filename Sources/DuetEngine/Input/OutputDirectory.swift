import DuetComm
import DuetCore
import DuetFormats
import Foundation

/// The rule for `--out DIR` of simulate, reconstruct, abinit and refine: a directory that already holds another
/// run's outputs is refused unless `--overwrite`, and no run ever writes over one of its own inputs.
public enum OutputDirectory {
    /// Every file or folder name a Duet run writes in its output directory.
    static let names = ["particles.star", "particles.cs", "particles.mrcs", "truth.star", "unused.star",
                        "unused_particles.star", "unused_particles.cs", "map.mrc", "half_map_A.mrc", "half_map_B.mrc",
                        "half_A.mrc", "half_B.mrc", "mask.mrc", "model_map.mrc", "fsc.star", "fsc.svg", "fsc.txt", "slices.png", "log.txt",
                        "duet.h5", "checkpoint"]

    /// Throws a one-line error when `directory` would overwrite one of `inputs` (whatever `overwrite` says), or
    /// holds another run's outputs and `overwrite` is false.
    /// Also throws when `directory` is a file, or it (or, when it does not exist yet, its nearest existing parent)
    /// is not a writable directory.
    static func check(_ directory: String, inputs: [String], overwrite: Bool) throws {
        try checkWritable(directory)
        let outputs = names.map { canonical(directory + "/" + $0) }
        for input in Set(inputs.map(canonical)) where outputs.contains(input) {
            throw DuetError("--out \(directory) would overwrite the input \(input): choose another output directory")
        }
        guard !overwrite else { return }
        let present = names.filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        guard present.isEmpty else {
            throw DuetError("--out \(directory) already holds another run's \(present.prefix(3).joined(separator: ", ")): "
                            + "choose another directory or pass --overwrite")
        }
    }

    /// Creates `directory` (and missing parents) when it does not exist; a failure is one line naming the reason.
    static func create(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            try checkWritable(directory)
            throw DuetError("--out \(directory): cannot create the directory (\(systemReason(error)))")
        }
    }

    /// `create` on rank 0 of `communicator`, after every rank has read its input, agreed over the ranks
    /// (collective).
    static func create(_ directory: String, on communicator: Communicator) throws {
        try communicator.agreeing { if communicator.isRoot { try create(directory) } }
    }

    /// The operating system's words for why a file operation failed ("Permission denied"), when it gave any.
    private static func systemReason(_ error: Error) -> String {
        if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? Error {
            let posix = underlying as NSError
            if posix.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(posix.code))) }
        }
        return (error as NSError).localizedDescription
    }

    private static func checkWritable(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        var existing = URL(fileURLWithPath: directory).standardizedFileURL
        while !FileManager.default.fileExists(atPath: existing.path, isDirectory: &isDirectory) {
            existing.deleteLastPathComponent()
        }
        let what = existing.path == URL(fileURLWithPath: directory).standardizedFileURL.path ? "" : " (its parent \(existing.path))"
        guard isDirectory.boolValue else {
            throw DuetError("--out \(directory)\(what) is a file, not a directory")
        }
        guard FileManager.default.isWritableFile(atPath: existing.path) else {
            throw DuetError("--out \(directory)\(what) is not writable")
        }
    }

    /// The particle file and every image stack it names: the inputs an output directory must not overwrite.
    static func inputs(of set: ParticleSet, path: String) -> [String] {
        [path] + Set(set.particles.map { set.imagePath(of: $0) })
    }

    /// `path` absolute, with `.`, `..` and symbolic links resolved.
    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
