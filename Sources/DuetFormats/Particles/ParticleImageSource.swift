import DuetCore
import Foundation

/// The particle images a `ParticleSet` names, from their MRC stacks, each stack opened once: the stack a particle
/// is in (header: image count, box), where a particle's image is checked (in its stack; a RELION name without
/// `N@` names a file of one image), and the image itself, checked for the expected box and finite pixels, in
/// RELION's contrast (`Particle.imageSign`). The one place Duet reads particle images: the jobs, `duet info` and
/// the box sizes a file does not state. One source per thread (an `MRCFile` is not thread-safe).
public final class ParticleImageSource {
    private let set: ParticleSet
    private var stacks: [String: MRCFile?] = [:]

    public init(set: ParticleSet) {
        self.set = set
    }

    /// The open stack of `particle`, nil when its file does not exist; throws when it exists but is not a
    /// readable MRC file.
    public func stack(of particle: Particle) throws -> MRCFile? {
        let path = set.imagePath(of: particle)
        if let open = stacks[path] { return open }
        let stack = FileManager.default.fileExists(atPath: path) ? try MRCFile(path: path) : nil
        stacks[path] = stack
        return stack
    }

    /// Throws a one-line error when `particle`'s image is not in `stack` (`row`, 1-based, names it when known).
    public func checkLocation(of particle: Particle, in stack: MRCFile, row: Int? = nil) throws {
        let path = set.imagePath(of: particle), which = row.map { "particle \($0): " } ?? ""
        if particle.image.isWholeFile && stack.imageCount != 1 {
            throw DuetError("\(which)\(path) is named as one image but holds \(stack.imageCount); "
                            + "name one as N@\(particle.image.path)")
        }
        guard particle.image.index < stack.imageCount else {
            throw DuetError("\(which)image \(particle.image.index + 1) requested but \(path) has \(stack.imageCount)")
        }
    }

    /// The open stack holding `particle`'s image, checked to exist, to hold `box`² images and to hold the image
    /// (everything `read` checks but the pixels); `row` (1-based) names the particle in messages when known.
    @discardableResult
    public func check(_ particle: Particle, row: Int? = nil, box: Int) throws -> MRCFile {
        let path = set.imagePath(of: particle)
        guard let stack = try stack(of: particle) else { throw DuetError("\(path): no such file") }
        guard stack.nx == box && stack.ny == box else {
            throw DuetError("\(path) holds \(stack.nx)×\(stack.ny) images, expected \(box)×\(box)")
        }
        try checkLocation(of: particle, in: stack, row: row)
        return stack
    }

    /// Reads the image of `particle` into `image` (`box²` floats); `row` (1-based) names it in messages when known.
    public func read(_ particle: Particle, row: Int? = nil, box: Int, into image: UnsafeMutableBufferPointer<Float>) throws {
        let path = set.imagePath(of: particle)
        let stack = try check(particle, row: row, box: box)
        try stack.readImages(range: particle.image.index..<(particle.image.index + 1), into: image)
        if let bad = image.firstIndex(where: { !$0.isFinite }) {
            throw DuetError("\(particle.image.index + 1)@\(path): pixel \(bad) is \(image[bad]); remove the particle or repair the stack")
        }
        if particle.imageSign != 1 {
            for p in image.indices { image[p] *= particle.imageSign }
        }
    }
}
