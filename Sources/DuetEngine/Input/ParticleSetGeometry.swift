import DuetCore
import DuetFormats

extension ParticleSet {
    /// The box (pixels) and pixel size (Å) every particle shares, checked before any work: a known image size, one
    /// finite positive pixel size, and a pose on every particle when `requirePoses` (the particle readers refuse
    /// NaN and infinite values). Throws a one-line error naming the file and the first particle (1-based) that fails.
    func commonGeometry(path: String, requirePoses: Bool) throws -> (box: Int, pixelSize_A: Double) {
        guard let first = particles.first else { throw DuetError("\(path) has no particles") }
        guard let box = first.boxSize else {
            throw DuetError("\(path): image size unknown (no rlnImageSize and no readable stack)")
        }
        guard let pixelSize_A = first.pixelSize_A else { throw DuetError("\(path): pixel size unknown: pass --pixel-size") }
        guard pixelSize_A.isFinite && pixelSize_A > 0 else {
            throw DuetError("\(path): pixel size \(pixelSize_A) Å is not a length > 0")
        }
        for (i, particle) in particles.enumerated() {
            if requirePoses && particle.pose == nil { throw DuetError("\(path): particle \(i + 1) has no pose") }
            guard particle.boxSize == box, let pixel = particle.pixelSize_A, abs(pixel - pixelSize_A) < 1e-4 else {
                throw DuetError("\(path): particle \(i + 1) has box \(particle.boxSize.map(String.init) ?? "?") at "
                    + "\(particle.pixelSize_A.map { String($0) } ?? "?") Å/px; all must share box \(box) at \(pixelSize_A) Å/px")
            }
        }
        return (box, pixelSize_A)
    }

    /// Throws when `--pixel-size` was given (`pixelSize_A` not nil) and is not a length > 0.
    static func validatePixelSizeOption(_ pixelSize_A: Double?) throws {
        if let p = pixelSize_A { guard p.isFinite && p > 0 else { throw DuetError("--pixel-size must be > 0 Å") } }
    }

    /// A line for the log when some particles carry no CTF parameters (they are used without CTF correction).
    var noteWithoutCTF: String? {
        let count = particles.lazy.filter { $0.ctf == nil }.count
        guard count > 0 else { return nil }
        return "note: \(count) of \(particles.count) particles have no CTF parameters and are used without CTF correction"
    }
}
