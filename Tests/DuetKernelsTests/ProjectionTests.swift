import DuetCore
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

final class ProjectionTests: XCTestCase {
    typealias S = KernelTestSupport

    static let genericPoses: [(RelionEulerAngles, SIMD2<Double>)] = [
        (RelionEulerAngles(rot_deg: 37.3, tilt_deg: 71.9, psi_deg: -122.4), [0, 0]),
        (RelionEulerAngles(rot_deg: -151.7, tilt_deg: 23.1, psi_deg: 48.6), [2.5, -1.25]),
        (RelionEulerAngles(rot_deg: 12.9, tilt_deg: 133.4, psi_deg: 201.2), [-3.7, 4.1]),
    ]

    private func spectrumArray(_ volume: FourierVolume, rotation: Rotation, translation: SIMD2<Double> = .zero,
                               radius: Int? = nil) -> [SIMD2<Float>] {
        let out = AlignedBuffer<SIMD2<Float>>(count: volume.grid.imageComplexCount)
        volume.project(rotation: rotation, translation_px: translation, radius_px: radius, into: out.baseAddress)
        return out.toArray()
    }

    /// Fourier-slice theorem: the inverse FFT of the extracted slice equals the real-space line integral of a
    /// smooth volume (Gaussian blobs, projected analytically) at generic rotations and translations, even and odd box.
    func testFourierSliceTheoremAgainstLineIntegrals() {
        for box in [48, 49] {
            let map = S.blobVolume(box: box, blobs: S.testBlobs)
            let volume = FourierVolume(map: map, grid: FourierGrid(box: box))
            for (angles, shift) in Self.genericPoses {
                let rotation = Rotation(relion: angles)
                let image = S.image(fromSpectrum: spectrumArray(volume, rotation: rotation, translation: shift), box: box)
                let moved = S.testBlobs.map { b -> S.Blob in
                    // A translation t of the image is a map translation by Aᵀ·(t, 0).
                    var c = b
                    c.centre += rotation.transposed * SIMD3(shift.x, shift.y, 0)
                    return c
                }
                let exact = S.blobProjection(box: box, blobs: moved, rotation: rotation)
                let ncc = TestMetrics.ncc(image, exact)
                print("Fourier-slice box \(box) \(angles) shift \(shift): NCC \(ncc)")
                XCTAssertGreaterThan(ncc, 0.999, "box \(box) \(angles) shift \(shift)")
                // Scale: without the gridding correction (which over-corrects the DC, as in RELION) the projection
                // is the line integral: its sum equals the sum of the map.
                let plain = FourierVolume(map: map, grid: FourierGrid(box: box), griddingCorrection: false)
                let plainImage = S.image(fromSpectrum: spectrumArray(plain, rotation: rotation), box: box)
                XCTAssertEqual(plainImage.reduce(0, +) / map.reduce(0, +), 1, accuracy: 1e-4, "box \(box)")
                // The transposed rotation (the other convention) must not match.
                let wrong = S.image(fromSpectrum: spectrumArray(volume, rotation: rotation.transposed, translation: shift),
                                    box: box)
                XCTAssertLessThan(TestMetrics.ncc(wrong, exact), 0.9, "box \(box): transposed rotation should not match")
            }
        }
    }

    /// ⟨P v, u⟩ = ⟨v, Pᵀ u⟩ for the real inner product Re Σ conj(a)·b, where P = `FourierVolume.project`
    /// (trilinear interpolation with Friedel flip and translation phase, on the stored half-volume; the
    /// gridding correction and padding act on the real-space map before and are not part of P) and
    /// Pᵀ = `BackProjector.insert` (numerator only), for random v and u.
    func testProjectionAndBackProjectionAreAdjoint() {
        var random = S.Random(seed: 11)
        for box in [32, 33] {
            let grid = FourierGrid(box: box, paddingFactor: 2, maxRadius_px: box / 2 - 1)
            let volume = FourierVolume(grid: grid)
            let v = random.complexes(grid.count)
            for i in 0..<grid.count { volume.data[i] = v[i] }
            for (angles, shift) in Self.genericPoses {
                let rotation = Rotation(relion: angles)
                let u = random.complexes(grid.imageComplexCount)
                let pv = spectrumArray(volume, rotation: rotation, translation: shift)
                let back = BackProjector(grid: grid)
                u.withUnsafeBufferPointer {
                    back.insert(slice: $0.baseAddress!, sliceWeights: nil, rotation: rotation, translation_px: shift)
                }
                var lhs = 0.0, rhs = 0.0
                for i in 0..<u.count {
                    lhs += Double(pv[i].x) * Double(u[i].x) + Double(pv[i].y) * Double(u[i].y)
                }
                for i in 0..<grid.count {
                    let b = back.numerator[i]
                    rhs += Double(v[i].x) * Double(b.x) + Double(v[i].y) * Double(b.y)
                }
                let relative = abs(lhs - rhs) / abs(lhs)
                print("adjointness box \(box): ⟨Pv,u⟩ = \(lhs), ⟨v,Pᵀu⟩ = \(rhs), relative difference \(relative)")
                XCTAssertLessThan(relative, 1e-5, "box \(box) \(angles)")
            }
        }
    }

    /// Only coefficients inside the radius are written; outside is zero; the radius-limited slice equals the full
    /// slice inside it.
    func testRadiusLimit() {
        let box = 40
        let volume = FourierVolume(map: S.blobVolume(box: box, blobs: S.testBlobs), grid: FourierGrid(box: box))
        let rotation = Rotation(relion: Self.genericPoses[0].0)
        let full = spectrumArray(volume, rotation: rotation)
        let limited = spectrumArray(volume, rotation: rotation, radius: 7)
        let hx = box / 2 + 1
        for row in 0..<box {
            let ky = FourierIndexing.signedFrequency(index: row, size: box)
            for kx in 0..<hx {
                let i = kx + hx * row
                if kx * kx + ky * ky <= 49 { XCTAssertEqual(limited[i], full[i]) } else { XCTAssertEqual(limited[i], .zero) }
            }
        }
    }

    /// The multi-threaded batch projection and insertion equal the one-at-a-time results.
    func testBatchesMatchSingleImages() {
        let box = 33
        let grid = FourierGrid(box: box)
        let volume = FourierVolume(map: S.blobVolume(box: box, blobs: S.testBlobs), grid: grid)
        var random = S.Random(seed: 5)
        let rotations = (0..<7).map { _ in
            Rotation(relion: RelionEulerAngles(rot_deg: 180 * random.next(), tilt_deg: 90 + 90 * random.next(),
                                               psi_deg: 180 * random.next()))
        }
        let shifts = (0..<7).map { _ in SIMD2(3 * random.next(), 3 * random.next()) }
        let stride = grid.imageComplexCount + 3
        let batch = AlignedBuffer<SIMD2<Float>>(count: stride * rotations.count)
        volume.project(rotations: rotations, translations_px: shifts, into: batch.baseAddress, outputStride: stride,
                       threads: 3)
        for i in rotations.indices {
            let single = spectrumArray(volume, rotation: rotations[i], translation: shifts[i])
            XCTAssertEqual(Array(batch.buffer[(i * stride)..<(i * stride + grid.imageComplexCount)]), single)
        }
        let weights = AlignedBuffer<Float>((0..<(stride * rotations.count)).map { _ in Float(1 + random.next()) })
        let serial = BackProjector(grid: grid), parallel = BackProjector(grid: grid)
        for i in rotations.indices {
            serial.insert(slice: batch.baseAddress + i * stride, sliceWeights: weights.baseAddress + i * stride,
                          rotation: rotations[i], translation_px: shifts[i])
        }
        for _ in 0..<2 {   // twice, so the worker accumulators are reused after being reduced
            parallel.insert(slices: batch.baseAddress, sliceStride: stride, sliceWeights: weights.baseAddress,
                            weightStride: stride, rotations: rotations, translations_px: shifts, threads: 3)
        }
        var maxN: Float = 0, maxW: Float = 0, errN: Float = 0, errW: Float = 0
        for i in 0..<grid.count {
            let d = parallel.numerator[i] - 2 * serial.numerator[i]
            errN = max(errN, abs(d.x), abs(d.y))
            maxN = max(maxN, abs(serial.numerator[i].x), abs(serial.numerator[i].y))
            errW = max(errW, abs(parallel.weight[i] - 2 * serial.weight[i]))
            maxW = max(maxW, serial.weight[i])
        }
        XCTAssertLessThan(errN, 1e-5 * maxN)
        XCTAssertLessThan(errW, 1e-5 * maxW)
    }

    /// Back-project exact line-integral projections of Gaussian blobs (computed analytically, not with Duet's
    /// projector) from many directions with weight 1 and reconstruct: the map comes back (normalised
    /// cross-correlation inside the particle's sphere, and on about the same scale). The gridding correction
    /// improves the agreement (NCC 0.9997 with, 0.9989 without), so it is on by default.
    func testReconstructionFromExactProjectionsRecoversTheMap() {
        for box in [32, 33] {
            let blobs = S.testBlobs.map { var b = $0; b.centre *= 0.6; return b }
            let map = S.blobVolume(box: box, blobs: blobs)
            let grid = FourierGrid(box: box)
            // Near-uniform directions (Fibonacci sphere) with random in-plane angles.
            let count = 1500
            var random = S.Random(seed: 9)
            let rotations = (0..<count).map { i -> Rotation in
                let z = 1 - (2 * Double(i) + 1) / Double(count)
                let tilt = acos(z) * 180 / .pi
                let rot = (Double(i) * 137.50776).truncatingRemainder(dividingBy: 360)
                return Rotation(relion: RelionEulerAngles(rot_deg: rot, tilt_deg: tilt, psi_deg: 180 * random.next()))
            }
            let stride = grid.imageComplexCount
            let slices = AlignedBuffer<SIMD2<Float>>(count: stride * count)
            let fft = RealFFT<Float>(imageWidth: box, height: box)
            for (i, rotation) in rotations.enumerated() {
                let image = S.blobProjection(box: box, blobs: blobs, rotation: rotation)
                image.withUnsafeBufferPointer { fft.forwardCentred($0.baseAddress!, slices.baseAddress + i * stride) }
            }
            let back = BackProjector(grid: grid)
            back.insert(slices: slices.baseAddress, sliceStride: stride, sliceWeights: nil, weightStride: 0,
                        rotations: rotations)
            for correction in [true, false] {
                let result = back.reconstruct(griddingCorrection: correction)
                var a = [Float](), b = [Float]()
                let c = box / 2
                for z in 0..<box { for y in 0..<box { for x in 0..<box {
                    let r2 = (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c)
                    if r2 <= (box / 2 - 2) * (box / 2 - 2) {
                        a.append(map[x + box * (y + box * z)]); b.append(result[x + box * (y + box * z)])
                    }
                } } }
                let ncc = TestMetrics.ncc(a, b)
                let ratio = b.reduce(0, +) / a.reduce(0, +)
                let mass = result.reduce(0, +) / map.reduce(0, +)
                print("reconstruction box \(box) gridding correction \(correction): NCC \(ncc), sum ratio \(ratio), "
                      + "whole-box mass ratio \(mass)")
                XCTAssertGreaterThan(ncc, 0.99, "box \(box), gridding correction \(correction)")
                // Measured with RELION's iterative (Pipe–Menon) gridding weights: sum ratio inside the sphere
                // 1.050–1.053 with the correction, 0.998–1.004 without; whole-box mass 0.995–1.013 with, 0.954–0.971
                // without. (The former numerator/weight estimate gave 0.93–0.95 and 0.89–0.91 inside, and lost a
                // quarter of the mass over the box: 0.74–0.75.) The few per cent above 1 with the correction are the
                // Pipe–Menon weights' slight lift of the lowest shells (1–3 %), where the sampling density falls as
                // 1/r faster than the blob can follow; relion_reconstruct shows the same (its map of RELION-projected
                // blobs and Duet's agree in scale to 0.03 %, both 1.019 × the truth after removing the mean).
                XCTAssertEqual(ratio, 1, accuracy: 0.08)
                XCTAssertEqual(mass, 1, accuracy: 0.06)
            }
        }
    }
}
