import DuetComm
import DuetCore
import DuetFormats
import DuetKernels

/// Back-projects one rank's share of a half-set's particles at their poses: each image is Fourier transformed
/// (about its centre `box/2`), multiplied by its CTF (the weight gets CTF²), and inserted at its rotation with its
/// shift undone (RELION's `rlnOriginX/YAngst`). Images are processed in batches, in parallel over images. With a
/// point group, each image goes in at every equivalent rotation `R·g` (`SymmetryGroup.equivalents`), so the
/// reconstruction is symmetric, as RELION's is. With `imageScales`, image `i` is modelled as `αᵢ·CTF·P` (its
/// contrast scale, `ParticleAssignment.scale`): it enters as `αᵢ·CTF·X` with weight `αᵢ²·CTF²`, the least-squares
/// estimate under that model, so an image that fits with α ≈ 0 (empty ice) adds nothing.
struct HalfSetBackProjection {
    let box: Int
    let pixelSize_A: Double
    let applyCTF: Bool
    var symmetry: SymmetryGroup = .c1
    let batchSize = 64

    func accumulate(_ particles: [Particle], imageScales: [Double]? = nil, from set: ParticleSet,
                    into backProjector: BackProjector) throws {
        precondition(imageScales.map { $0.count == particles.count } ?? true, "HalfSetBackProjection: one scale per image")
        let pixels = box * box, half = box * (box / 2 + 1)
        let fft = RealFFT<Float>(imageWidth: box, height: box, rigor: .estimate)
        let ctfGrid = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize_A)
        let images = AlignedBuffer<Float>(count: batchSize * pixels)
        let slices = AlignedBuffer<SIMD2<Float>>(count: batchSize * half)
        let weights = AlignedBuffer<Float>(count: batchSize * half)
        let source = ParticleImageSource(set: set)
        for start in stride(from: 0, to: particles.count, by: batchSize) {
            let batch = Array(particles[start..<min(start + batchSize, particles.count)])
            for (i, particle) in batch.enumerated() {
                try source.read(particle, box: box, into: UnsafeMutableBufferPointer(start: images.baseAddress + i * pixels, count: pixels))
            }
            let ctfs = try batch.map { particle -> RelionCTF? in
                guard applyCTF, let ctf = particle.ctf else { return nil }
                return try RelionCTF(ctf)
            }
            let scales = (start..<(start + batch.count)).map { Float(imageScales?[$0] ?? 1) }
            nonisolated(unsafe) let imageBase = images.baseAddress, sliceBase = slices.baseAddress, weightBase = weights.baseAddress
            ParallelFor.run(count: batch.count) { range in
                for i in range {
                    let slice = sliceBase + i * half, weight = weightBase + i * half
                    fft.forwardCentred(imageBase + i * pixels, slice)
                    if let ctf = ctfs[i] {
                        ctf.evaluate(on: ctfGrid, into: UnsafeMutableBufferPointer(start: weight, count: half))
                    } else {
                        weight.update(repeating: 1, count: half)
                    }
                    let alpha = scales[i]
                    for k in 0..<half {
                        let model = alpha * weight[k]
                        slice[k] *= model
                        weight[k] = model * model
                    }
                }
            }
            let shifts_px = batch.map { SIMD2(-$0.pose!.shiftX_A / pixelSize_A, -$0.pose!.shiftY_A / pixelSize_A) }
            for g in symmetry.elements {
                backProjector.insert(slices: slices.baseAddress, sliceStride: half, sliceWeights: weights.baseAddress,
                                     weightStride: half, rotations: batch.map { $0.pose!.rotation * g },
                                     translations_px: shifts_px)
            }
        }
    }
}
