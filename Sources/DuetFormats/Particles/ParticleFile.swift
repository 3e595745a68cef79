import DuetCore
import Foundation

/// Reads and writes particle metadata in either format, chosen by file extension: `.star` (RELION) or `.cs`
/// (CryoSPARC). `pixelSize_A`, when given, overrides the pixel size stated by (or missing from) the file.
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

    public static func read(_ path: String, pixelSize_A: Double? = nil) throws -> ParticleSet {
        switch try format(of: path) {
        case .star: return try StarParticles.read(path, pixelSize_A: pixelSize_A)
        case .cryosparc: return try CryosparcParticles.read(path, pixelSize_A: pixelSize_A)
        }
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
