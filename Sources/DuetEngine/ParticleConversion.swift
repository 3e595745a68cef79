import DuetCore
import DuetFormats
import Foundation

/// `duet convert`: particle metadata from RELION STAR to CryoSPARC `.cs`, or back (or to the same format),
/// converting Euler angles ↔ axis-angle, Å ↔ pixel shifts and subsets 1/2 ↔ splits 0/1. Image paths are
/// rewritten relative to the output's directory. The output appears whole or not at all.
public enum ParticleConversion {
    /// Converts and returns a one-line summary.
    public static func run(input: String, output: String, pixelSize_A: Double? = nil) throws -> String {
        guard FileManager.default.fileExists(atPath: input) else { throw DuetError("\(input): no such file") }
        _ = try ParticleFile.format(of: output)
        let set = try ParticleFile.read(input, pixelSize_A: pixelSize_A)
        try ParticleFile.write(set, to: output)
        return "wrote \(set.particles.count) particles to \(output)"
    }
}
