import DuetCore
import DuetFormats
import Foundation

/// `duet convert`: particle metadata from RELION STAR to CryoSPARC `.cs`, or back (or to the same format),
/// converting Euler angles ↔ axis-angle, Å ↔ pixel shifts and subsets 1/2 ↔ splits 0/1. Image paths are
/// rewritten relative to the output's directory. The output appears whole or not at all.
public enum ConvertJob {
    public struct Configuration: Sendable {
        /// The particle file to read (`.star` or `.cs`).
        public var input: String
        /// The particle file to write; its extension names the format.
        public var output: String
        /// Overrides the input's pixel size.
        public var pixelSize_A: Double?

        public init(input: String, output: String) {
            self.input = input
            self.output = output
        }
    }

    /// Converts and returns a one-line summary.
    public static func run(_ configuration: Configuration) throws -> String {
        let input = configuration.input, output = configuration.output
        guard FileManager.default.fileExists(atPath: input) else { throw DuetError("\(input): no such file") }
        _ = try ParticleFile.format(of: output)
        let set = try ParticleFile.read(input, pixelSize_A: configuration.pixelSize_A)
        try ParticleFile.write(set, to: output)
        return "wrote \(set.particles.count) particles to \(output)"
    }
}
