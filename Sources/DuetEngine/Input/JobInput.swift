import DuetCore
import DuetFormats
import Foundation

/// The particles a job runs on, read and checked the same way by `reconstruct`, `abinit` and `refine` before any
/// work: the particle file (`--pixel-size` replacing its pixel size; its reader refuses NaN and infinite values),
/// box sizes filled from the stacks, one common box and pixel size (Å), and an output directory that may be written.
struct JobInput {
    /// Every row of the particle file, in file order (the outputs keep them all).
    var file: ParticleSet
    /// The rows the job uses: the first `particleLimit` rows of `file`, or all of them.
    var particles: ParticleSet
    let box: Int
    let pixelSize_A: Double

    /// Reads and checks `path` (relative image paths looked up from `workingDirectory`, default the current one,
    /// as `ParticleFile.read` does); `outputDirectory` is checked by `OutputDirectory.check` unless nil (a resumed
    /// run writes into its own directory). Throws a one-line `DuetError` on the first problem.
    static func read(_ path: String, pixelSizeOption pixelSize_A: Double?, workingDirectory: String? = nil,
                     particleLimit: Int? = nil,
                     requirePoses: Bool, outputDirectory: String?, overwrite: Bool) throws -> JobInput {
        try ParticleSet.validatePixelSizeOption(pixelSize_A)
        var file = try ParticleFile.read(path, pixelSize_A: pixelSize_A, workingDirectory: workingDirectory)
        file.fillMissingBoxSizesFromStacks()
        var particles = file
        if let particleLimit { particles.particles = Array(particles.particles.prefix(particleLimit)) }
        let (box, pixel_A) = try particles.commonGeometry(path: path, requirePoses: requirePoses)
        if let outputDirectory {
            try OutputDirectory.check(outputDirectory, inputs: OutputDirectory.inputs(of: file, path: path),
                                      overwrite: overwrite)
        }
        return JobInput(file: file, particles: particles, box: box, pixelSize_A: pixel_A)
    }
}
