import DuetCore
import DuetFormats

/// Reads particle images from their MRC stacks, keeping each stack open, and checks that each image exists, has
/// the expected box and finite pixels. One reader per thread (an `MRCFile` is not thread-safe).
final class ParticleImageReader {
    private let set: ParticleSet
    private var stacks: [String: MRCFile] = [:]

    init(set: ParticleSet) {
        self.set = set
    }

    /// Reads the image of `particle` into `image` (`box²` floats), in RELION's contrast (`Particle.imageSign`).
    func read(_ particle: Particle, box: Int, into image: UnsafeMutableBufferPointer<Float>) throws {
        let path = set.imagePath(of: particle)
        let stack: MRCFile
        if let open = stacks[path] {
            stack = open
        } else {
            stack = try MRCFile(path: path)
            stacks[path] = stack
        }
        guard stack.nx == box && stack.ny == box else {
            throw DuetError("\(path) holds \(stack.nx)×\(stack.ny) images, expected \(box)×\(box)")
        }
        guard !particle.image.isWholeFile || stack.imageCount == 1 else {
            throw DuetError("\(path) is named as one image but holds \(stack.imageCount); name one as N@\(particle.image.path)")
        }
        try stack.readImages(range: particle.image.index..<(particle.image.index + 1), into: image)
        if let bad = image.firstIndex(where: { !$0.isFinite }) {
            throw DuetError("\(particle.image.index + 1)@\(path): pixel \(bad) is \(image[bad]); remove the particle or repair the stack")
        }
        if particle.imageSign != 1 {
            for p in image.indices { image[p] *= particle.imageSign }
        }
    }
}
