import DuetCore
import DuetFormats
import DuetKernels

/// Particle images prepared once for pose inference: each image normalised by its background (mean and standard
/// deviation outside the particle circle), Fourier transformed about its centre (`box/2`), and its RELION CTF
/// evaluated on the same centred half-plane. Only the particles a rank owns are read: image `i` of `images` is
/// particle `i` of `particles`, which is `set.particles[indices[i]]`.
final class PreparedParticles {
    let particles: [Particle]
    let box: Int
    let pixelSize_A: Double
    let images: PoseImageBatch
    var complexCount: Int { images.complexCount }

    init(set: ParticleSet, indices: [Int], box: Int, pixelSize_A: Double, backgroundRadius_px: Double) throws {
        particles = indices.map { set.particles[$0] }
        self.box = box
        self.pixelSize_A = pixelSize_A
        images = PoseImageBatch(box: box, count: particles.count)
        let complexCount = images.complexCount
        let fft = RealFFT<Float>(imageWidth: box, height: box, rigor: .estimate)
        let grid = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize_A)
        let source = ParticleImageSource(set: set)
        let image = AlignedBuffer<Float>(count: box * box)
        let centre = Double(box / 2), r2 = backgroundRadius_px * backgroundRadius_px
        for (i, particle) in particles.enumerated() {
            try source.read(particle, row: indices[i] + 1, box: box, into: image.buffer)
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
            fft.forwardCentred(image.baseAddress, images.spectra.baseAddress + i * complexCount)
            let ctfOut = UnsafeMutableBufferPointer(start: images.ctfs.baseAddress + i * complexCount, count: complexCount)
            if let ctf = particle.ctf {
                try RelionCTF(ctf).evaluate(on: grid, into: ctfOut)
            } else {
                ctfOut.update(repeating: 1)
            }
        }
    }
}
