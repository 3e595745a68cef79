import DuetCore
import DuetFormats
import DuetKernels

/// Particle images prepared for pose inference: each image normalised by its background (mean and standard
/// deviation outside the particle circle), Fourier transformed about its centre (`box/2`), and its RELION CTF
/// evaluated on the same centred half-plane. Only the particles a rank owns are read: image (slot) `i` of `images`
/// is particle `i` of `particles`, which is `set.particles[indices[i]]`.
///
/// Every stack is checked when this is made (it exists, holds `box`² images, holds each particle's image); the
/// pixels are read on a background thread (`ParticleLoader`) in the order the run will first use them
/// (`prioritise`), so that reading overlaps the iterations. Use an image only after `wait(for:)` has returned for
/// it: that is where a stack that cannot be read, or a pixel that is not finite, is reported. What an image holds
/// does not depend on when or on which thread it was prepared.
final class PreparedParticles {
    let particles: [Particle]
    let box: Int
    let pixelSize_A: Double
    let images: PoseImageBatch
    var complexCount: Int { images.complexCount }
    private let loader: ParticleLoader

    init(set: ParticleSet, indices: [Int], box: Int, pixelSize_A: Double, backgroundRadius_px: Double) throws {
        particles = indices.map { set.particles[$0] }
        self.box = box
        self.pixelSize_A = pixelSize_A
        images = PoseImageBatch(box: box, count: particles.count)
        let source = ParticleImageSource(set: set)
        for (particle, index) in zip(particles, indices) { try source.check(particle, row: index + 1, box: box) }
        // The checked stacks stay open for the loader's thread, which alone uses them from here on.
        let preparation = ImagePreparation(source: source, box: box, pixelSize_A: pixelSize_A,
                                           backgroundRadius_px: backgroundRadius_px)
        let particles = particles, images = images
        loader = ParticleLoader(count: particles.count) { slot in
            try preparation.prepare(particles[slot], row: indices[slot] + 1, into: images, slot: slot)
        }
    }

    deinit { loader.cancel() }

    /// Prepares the images of `slots` first, in that order, then the others (starts reading on the first call).
    func prioritise(_ slots: [Int]) { loader.prioritise(slots) }

    /// Returns once the images of `slots` are prepared; throws the error of the first that could not be.
    func wait(for slots: some Sequence<Int>) throws { try loader.wait(for: slots) }

    /// Returns once every image is prepared; throws the error of the first that could not be.
    func waitForAll() throws { try loader.wait(for: 0..<particles.count) }

    /// How many images were prepared so far, the seconds that took, and the seconds `wait` blocked.
    var reading: ParticleLoader.Statistics { loader.progress }

    /// The prepared images of `slots`, in that order, once they are ready.
    func batch(_ slots: [Int]) throws -> PoseImageBatch {
        try wait(for: slots)
        return images.subset(slots)
    }
}

/// How one particle image is prepared (read, normalised by its background, centred FFT, CTF), with the reader
/// and FFT plan of the one thread that uses it.
private final class ImagePreparation {
    private let box: Int
    private let source: ParticleImageSource
    private let fft: RealFFT<Float>
    private let grid: CTFFrequencyGrid
    private let image: AlignedBuffer<Float>
    private let backgroundRadius_px: Double

    init(source: ParticleImageSource, box: Int, pixelSize_A: Double, backgroundRadius_px: Double) {
        self.box = box
        self.source = source
        fft = RealFFT<Float>(imageWidth: box, height: box, rigor: .estimate)
        grid = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize_A)
        image = AlignedBuffer<Float>(count: box * box)
        self.backgroundRadius_px = backgroundRadius_px
    }

    /// Prepares `particle`'s image (`row`, 1-based, names it in messages) into `slot` of `images`.
    func prepare(_ particle: Particle, row: Int, into images: PoseImageBatch, slot: Int) throws {
        try source.read(particle, row: row, box: box, into: image.buffer)
        let centre = Double(box / 2), r2 = backgroundRadius_px * backgroundRadius_px
        var sum = 0.0, sum2 = 0.0, n = 0.0
        for y in 0..<box {
            for x in 0..<box where (Double(x) - centre) * (Double(x) - centre) + (Double(y) - centre) * (Double(y) - centre) > r2 {
                let v = Double(image[y * box + x])
                sum += v
                sum2 += v * v
                n += 1
            }
        }
        let mean = n > 0 ? sum / n : 0
        let deviation = n > 1 ? max((sum2 / n - mean * mean).squareRoot(), 1e-12) : 1
        for p in 0..<(box * box) { image[p] = Float((Double(image[p]) - mean) / deviation) }
        fft.forwardCentred(image.baseAddress, images.spectrum(slot))
        let ctfOut = UnsafeMutableBufferPointer(start: images.ctf(slot), count: images.complexCount)
        if let ctf = particle.ctf {
            try RelionCTF(ctf).evaluate(on: grid, into: ctfOut)
        } else {
            ctfOut.update(repeating: 1)
        }
    }
}
