import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet abinit PARTICLES --out DIR`: ab-initio reconstruction of one particle set. Writes `map.mrc` (the SGD
/// volume), `particles.star` and `particles.cs` (the particles that were seen, with their most probable poses),
/// `unused.star` (particles never drawn into a minibatch) and `log.txt` (one line every 10 iterations).
public enum AbinitJob {
    public static func run(particlesPath: String, outputDirectory: String, pixelSize_A: Double?,
                           configuration: AbinitConfiguration, progress: @escaping (String) -> Void) throws -> String {
        var set = try ParticleFile.read(particlesPath, pixelSize_A: pixelSize_A)
        set.fillMissingBoxSizesFromStacks()
        if let limit = configuration.particleLimit { set.particles = Array(set.particles.prefix(limit)) }
        guard let box = set.particles.first?.boxSize else { throw DuetError("\(particlesPath): image size unknown") }
        guard let pixel_A = set.particles.first?.pixelSize_A else {
            throw DuetError("\(particlesPath): pixel size unknown: pass --pixel-size")
        }
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let diameter_px = configuration.particleDiameter_px(box: box, pixelSize_A: pixel_A)
        let data = try PreparedParticles(set: set, box: box, pixelSize_A: pixel_A, backgroundRadius_px: diameter_px / 2)
        var logLines = [String]()
        let engine = AbinitEngine(configuration: configuration, data: data) { line in
            logLines.append(line)
            progress(line)
        }
        engine.run()

        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: engine.map(), pixelSize_A: Float(pixel_A),
                                  to: outputDirectory + "/map.mrc")
        var used = set, unused = set
        used.particles = []
        unused.particles = []
        for (particle, assignment) in zip(set.particles, engine.assignments) {
            if let pose = assignment.pose {
                var posed = particle
                posed.pose = pose
                used.particles.append(posed)
            } else {
                unused.particles.append(particle)
            }
        }
        used.source = .generated
        unused.source = .generated
        try ParticleFile.write(used, to: outputDirectory + "/particles.star")
        try ParticleFile.write(used, to: outputDirectory + "/particles.cs")
        try ParticleFile.write(unused, to: outputDirectory + "/unused.star")
        try AtomicFile.write(logLines.joined(separator: "\n") + "\n", to: outputDirectory + "/log.txt")
        return "ab-initio map of \(used.particles.count) particles (\(unused.particles.count) unused) in \(outputDirectory)/"
    }
}
