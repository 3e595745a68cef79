import DuetCore
import Foundation

/// Reads and writes particle metadata in either format, chosen by file extension: `.star` (RELION) or `.cs`
/// (CryoSPARC). `pixelSize_A`, when given, overrides the pixel size stated by (or missing from) the file.
/// Relative image paths are looked up as RELION and CryoSPARC do (`locatingImages`).
public enum ParticleFile {
    public enum Format: Sendable {
        case star, cryosparc
    }

    /// The format of `path` from its extension; throws a one-line error for any other.
    public static func format(of path: String) throws -> Format {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "star": return .star
        case "cs": return .cryosparc
        default: throw DuetError("\(path): unknown particle file format (expected .star or .cs)")
        }
    }

    /// Reads `path`; relative image paths are looked up from `workingDirectory` (default: the current one).
    public static func read(_ path: String, pixelSize_A: Double? = nil, workingDirectory: String? = nil) throws -> ParticleSet {
        let format = try format(of: path)
        let set = switch format {
        case .star: try StarParticles.read(path, pixelSize_A: pixelSize_A)
        case .cryosparc: try CryosparcParticles.read(path, pixelSize_A: pixelSize_A)
        }
        return try locatingImages(set, format: format, path: path, workingDirectory: workingDirectory)
    }

    /// `set` with its relative image paths resolved where they exist, in this order: against the working
    /// directory (RELION runs in its project and writes paths relative to it), against the metadata file's own
    /// directory (where Duet writes them for a set outside any project), and for `.cs` against the folder above
    /// the file's (CryoSPARC's paths are relative to the project folder that holds the job folders). Throws when
    /// two of these places hold different stacks of the same name.
    public static func locatingImages(_ set: ParticleSet, format: Format, path: String,
                                      workingDirectory: String? = nil) throws -> ParticleSet {
        var candidates = [workingDirectory ?? FileManager.default.currentDirectoryPath, set.baseDirectory]
        if format == .cryosparc {
            candidates.append(URL(fileURLWithPath: set.baseDirectory).deletingLastPathComponent().path)
        }
        return try set.resolvingImageBase(candidates: candidates, path: path)
    }

    /// Writes `set` atomically, with image paths rewritten relative to the new file's directory.
    public static func write(_ set: ParticleSet, to path: String) throws {
        let format = try format(of: path)
        var set = set.rebased(to: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        switch format {
        case .star:
            try StarWriter.write(StarParticles.document(for: set), to: path)
        case .cryosparc:
            set.fillMissingBoxSizesFromStacks()
            try NPYFile.write(CryosparcParticles.array(for: set), to: path)
        }
    }
}
