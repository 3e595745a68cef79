import DuetCore
import DuetKernels
import Foundation
import XCTest

final class PosteriorTests: XCTestCase {
    typealias S = KernelTestSupport

    /// A small problem: box 24, random smooth volume, 50 random rotations, 9 shifts, 3 CTF-modulated images.
    struct Problem {
        let box = 24
        let volume: FourierVolume
        let rotations: [Rotation]
        let shifts: [SIMD2<Double>]
        let ctfs: [[Float]]
        let pixelSize = 3.0

        init(seed: UInt64) {
            var random = S.Random(seed: seed)
            var blobs = [S.Blob]()
            for _ in 0..<6 {
                blobs.append(S.Blob(centre: SIMD3(random.next() * 6, random.next() * 6, random.next() * 6),
                                    sigma: 1.5 + random.next().magnitude * 1.5, amplitude: 0.5 + random.next().magnitude))
            }
            volume = FourierVolume(map: S.blobVolume(box: box, blobs: blobs), grid: FourierGrid(box: box))
            rotations = (0..<50).map { _ in
                Rotation(unitQuaternion: SIMD4(random.next(), random.next(), random.next(), random.next()))
            }
            var s = [SIMD2<Double>]()
            for y in -1...1 { for x in -1...1 { s.append(SIMD2(Double(x) * 1.5, Double(y) * 1.5)) } }
            shifts = s
            let frequencies = CTFFrequencyGrid(box: box, pixelSize_A: pixelSize)
            ctfs = (0..<3).map { i in
                let p = CTFParameters(defocusU_A: 12000 + 4000 * Double(i), defocusV_A: 11500 + 4000 * Double(i),
                                      defocusAngle_deg: 30 * Double(i), voltage_kV: 300, sphericalAberration_mm: 2.7,
                                      amplitudeContrast: 0.1)
                return try! RelionCTF(p).image(on: frequencies)
            }
        }

        func project(_ rotation: Rotation, shift: SIMD2<Double> = .zero) -> [SIMD2<Float>] {
            let out = AlignedBuffer<SIMD2<Float>>(count: volume.grid.imageComplexCount)
            volume.project(rotation: rotation, translation_px: shift, into: out.baseAddress)
            return out.toArray()
        }

        /// CTF · projection at (rotation, shift) plus complex Gaussian noise of variance `noise` per component.
        func image(_ index: Int, rotation: Rotation, shift: SIMD2<Double>, noise: Double,
                   random: inout S.Random) -> [SIMD2<Float>] {
            let p = project(rotation, shift: shift)
            return (0..<p.count).map { k in
                var v = p[k] * ctfs[index][k]
                if noise > 0 { v += SIMD2(Float(gaussian(&random) * noise.squareRoot()),
                                          Float(gaussian(&random) * noise.squareRoot())) }
                return v
            }
        }

        /// Mean |CTF·P|² over the disc of radius `r` (sets the noise scale of the tests).
        func meanSignalPower(radius r: Int) -> Double {
            let p = project(rotations[0])
            var s = 0.0, n = 0
            forEachFullPlane(radius: r, minRadius: 0) { _, _, h, _ in
                s += Double((p[h] * ctfs[0][h] * p[h] * ctfs[0][h]).sum()); n += 1
            }
            return s / Double(n)
        }

        /// Calls `body(kx, ky, halfPlaneIndex, conjugate)` for every full-plane frequency with minRadius ≤ |k| ≤ r.
        func forEachFullPlane(radius r: Int, minRadius: Double, _ body: (Int, Int, Int, Bool) -> Void) {
            let hx = box / 2 + 1
            for ky in -(box / 2)..<(box - box / 2) {
                for kx in -(box / 2)..<(box - box / 2) {
                    let k2 = kx * kx + ky * ky
                    if k2 > r * r || Double(k2) < minRadius * minRadius { continue }
                    let (x, y, conjugate) = kx >= 0 ? (kx, ky, false) : (-kx, -ky, true)
                    let row = y >= 0 ? y : y + box
                    body(kx, ky, row * hx + x, conjugate)
                }
            }
        }

        func batch(_ images: [[SIMD2<Float>]]) -> PoseImageBatch {
            let b = PoseImageBatch(box: box, count: images.count)
            for (i, x) in images.enumerated() { b.setImage(i, spectrum: x, ctf: ctfs[i]) }
            return b
        }

        /// Brute force: log-likelihoods of every (rotation, shift) for image `i`, in Double over the full plane;
        /// `sigma2(h, shell)` is σ² of half-plane coefficient `h` in shell `shell`.
        func bruteForce(image x: [SIMD2<Float>], ctf: [Float], sigma2: (Int, Int) -> Double, radius r: Int,
                        minRadius: Double) -> [[Double]] {
            rotations.map { rotation in
                shifts.map { shift in
                    let p = project(rotation, shift: shift)
                    var sum = 0.0
                    forEachFullPlane(radius: r, minRadius: minRadius) { kx, ky, h, conjugate in
                        var xv = SIMD2<Double>(x[h]), pv = SIMD2<Double>(p[h])
                        if conjugate { xv.y = -xv.y; pv.y = -pv.y }
                        let d = xv - Double(ctf[h]) * pv
                        let shell = Int((Double(kx * kx + ky * ky)).squareRoot().rounded())
                        sum += (d * d).sum() / (2 * sigma2(h, shell))
                    }
                    return -sum
                }
            }
        }
    }

    static func gaussian(_ random: inout S.Random) -> Double {
        let u1 = max(1e-300, (random.next() + 1) / 2), u2 = (random.next() + 1) / 2
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// With 2-D noise (`NoiseSpectrum(coefficients:)`: σ² that depends on direction within a shell, as the coloured
    /// noise model estimates it), the kernel's best pose, log-likelihood and weights still equal the brute force's.
    func testPosteriorWithDirectionDependentNoiseMatchesBruteForce() {
        let problem = Problem(seed: 11)
        var random = S.Random(seed: 5)
        let radius = 9, box = problem.box, hx = box / 2 + 1
        let power = problem.meanSignalPower(radius: radius)
        var sigma2 = [Double](repeating: 1, count: box * hx)
        for h in sigma2.indices {
            let x = Double(h % hx), row = h / hx, y = Double(row <= box / 2 ? row : row - box)
            let along = x * x + y * y > 0 ? x * x / (x * x + y * y) : 0
            sigma2[h] = power * 3 * (0.5 + 1.5 * along)   // three times the noise along x as along y
        }
        let image = problem.image(0, rotation: problem.rotations[4], shift: problem.shifts[2], noise: power * 0.3,
                                  random: &random)
        let result = PosePosteriorKernel.posteriors(
            volume: problem.volume, images: problem.batch([image]), rotations: problem.rotations,
            shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(coefficients: sigma2, box: box),
            settings: PoseSearchSettings(radius_px: radius, minRadius_px: 1, relativeThreshold: 1e-12))[0]
        let ll = problem.bruteForce(image: image, ctf: problem.ctfs[0], sigma2: { h, _ in sigma2[h] }, radius: radius,
                                    minRadius: 1)
        let m = ll.joined().max()!
        let z = ll.joined().reduce(0) { $0 + exp($1 - m) }
        XCTAssertEqual(result.best.logLikelihood, m, accuracy: 1e-5 * abs(m) + 1e-3)
        for p in result.poses {
            XCTAssertEqual(p.weight, exp(ll[p.rotation][p.shift] - m) / z, accuracy: 1e-4)
        }
        // The shell-wise mean of the same σ² would give other weights: the direction matters.
        let shellOnly = PosePosteriorKernel.posteriors(
            volume: problem.volume, images: problem.batch([image]), rotations: problem.rotations,
            shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: [Double](repeating: power * 3 * 1.25, count: 13)),
            settings: PoseSearchSettings(radius_px: radius, minRadius_px: 1, relativeThreshold: 1e-12))[0]
        XCTAssertGreaterThan(abs(shellOnly.best.logLikelihood - result.best.logLikelihood), 1e-3 * abs(m))
    }

    /// (1) The kernel's posterior equals a plainly written brute force (project with translation, CTF, full-plane
    /// sum in Double) to 1e-4 in every weight; best log-likelihood and ESS agree too.
    func testPosteriorMatchesBruteForce() {
        let problem = Problem(seed: 7)
        var random = S.Random(seed: 99)
        let radius = 9, minRadius = 1.5
        let power = problem.meanSignalPower(radius: radius)
        // Noise per shell varying with the shell; a large model σ² keeps the posterior spread.
        let sigma2 = (0...12).map { power * (0.4 + 0.05 * Double($0)) * 8 }
        let images = (0..<3).map { i in
            problem.image(i, rotation: Rotation(unitQuaternion: SIMD4(random.next(), random.next(), random.next(),
                                                                      random.next())),
                          shift: SIMD2(random.next(), random.next()), noise: power * 0.3, random: &random)
        }
        let settings = PoseSearchSettings(radius_px: radius, minRadius_px: minRadius, relativeThreshold: 1e-12)
        let result = PosePosteriorKernel.posteriors(volume: problem.volume, images: problem.batch(images),
                                                    rotations: problem.rotations, shifts_px: problem.shifts,
                                                    noiseVariance: NoiseSpectrum(shells: sigma2), settings: settings)
        XCTAssertEqual(result.count, 3)
        let sparse0 = PosePosteriorKernel.posteriors(volume: problem.volume, images: problem.batch(images),
                                                     rotations: problem.rotations, shifts_px: problem.shifts,
                                                     noiseVariance: NoiseSpectrum(shells: sigma2),
                                                     settings: PoseSearchSettings(radius_px: radius, minRadius_px: minRadius))
        for i in 0..<3 {
            let ll = problem.bruteForce(image: images[i], ctf: problem.ctfs[i], sigma2: { sigma2[$1] }, radius: radius,
                                        minRadius: minRadius)
            let m = ll.joined().max()!
            let z = ll.joined().reduce(0) { $0 + exp($1 - m) }
            var kernel = [[Double]](repeating: [Double](repeating: 0, count: problem.shifts.count),
                                    count: problem.rotations.count)
            for p in result[i].poses { kernel[p.rotation][p.shift] = p.weight }
            var maxError = 0.0, w2 = 0.0, bestR = 0, bestT = 0
            for r in 0..<problem.rotations.count {
                for t in 0..<problem.shifts.count {
                    let w = exp(ll[r][t] - m) / z
                    w2 += w * w
                    if ll[r][t] == m { (bestR, bestT) = (r, t) }
                    maxError = max(maxError, abs(w - kernel[r][t]))
                }
            }
            let ess = 1 / w2
            print("posterior image \(i): sparse kept \(sparse0[i].poses.count), ESS brute \(ess) kernel \(result[i].effectiveSampleSize), kept \(result[i].poses.count), "
                  + "max |Δw| \(maxError), best LL brute \(m) kernel \(result[i].best.logLikelihood)")
            XCTAssertLessThan(maxError, 1e-4, "image \(i)")
            XCTAssertEqual(result[i].best.rotation, bestR)
            XCTAssertEqual(result[i].best.shift, bestT)
            XCTAssertEqual(result[i].best.logLikelihood, m, accuracy: 1e-5 * abs(m) + 1e-3)
            XCTAssertEqual(result[i].effectiveSampleSize, ess, accuracy: 1e-3 * ess)
            XCTAssertEqual(result[i].evaluatedPoseCount, 450)
            let logEvidence = m + log(z) - log(450)
            XCTAssertEqual(result[i].logEvidence, logEvidence, accuracy: 1e-5 * abs(m) + 1e-3)
            XCTAssertEqual(result[i].poses.reduce(0) { $0 + $1.weight }, 1, accuracy: 1e-9)
            XCTAssertGreaterThan(ess, 1.5, "test problem should have a spread posterior")
        }
        // The default threshold keeps exactly the poses above 1e-4 of the maximum (renormalised).
        let sparse = PosePosteriorKernel.posteriors(volume: problem.volume, images: problem.batch(images),
                                                    rotations: problem.rotations, shifts_px: problem.shifts,
                                                    noiseVariance: NoiseSpectrum(shells: sigma2),
                                                    settings: PoseSearchSettings(radius_px: radius, minRadius_px: minRadius))
        for i in 0..<3 {
            let top = result[i].poses[0].weight
            let expected = result[i].poses.filter { $0.weight >= 1e-4 * top * (1 + 1e-6) }.count
            XCTAssertLessThanOrEqual(abs(sparse[i].poses.count - expected), 1)
            XCTAssertEqual(sparse[i].best.rotation, result[i].best.rotation)
            XCTAssertEqual(sparse[i].effectiveSampleSize, result[i].effectiveSampleSize, accuracy: 1e-9)
            XCTAssertEqual(sparse[i].poses.reduce(0) { $0 + $1.weight }, 1, accuracy: 1e-9)
            XCTAssertTrue(sparse[i].poses.allSatisfy { $0.weight >= 1e-4 * sparse[i].poses[0].weight })
        }
    }

    /// (2) A noiseless image made at a listed rotation and shift gets posterior ≈ 1 on that pose; also with a
    /// candidate subset (output indices are rotation-list indices).
    func testNoiselessImageFindsItsPose() {
        let problem = Problem(seed: 3)
        var random = S.Random(seed: 5)
        let truth: [(Int, Int)] = [(17, 7), (3, 0), (42, 4)]
        let images = truth.enumerated().map { i, pose in
            problem.image(i, rotation: problem.rotations[pose.0], shift: problem.shifts[pose.1], noise: 0, random: &random)
        }
        let power = problem.meanSignalPower(radius: 10)
        let sigma2 = [Double](repeating: power * 0.05, count: 13)
        let settings = PoseSearchSettings(radius_px: 10)
        let batch = problem.batch(images)
        let all = PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                                 shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2), settings: settings)
        let subset = [40, 42, 3, 17, 11]
        let some = PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                                  candidates: subset, shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2),
                                                  settings: settings)
        for (i, pose) in truth.enumerated() {
            for result in [all[i], some[i]] {
                XCTAssertEqual(result.best.rotation, pose.0, "image \(i)")
                XCTAssertEqual(result.best.shift, pose.1, "image \(i)")
                XCTAssertGreaterThan(result.best.weight, 0.999, "image \(i)")
                XCTAssertEqual(result.effectiveSampleSize, 1, accuracy: 0.01)
                XCTAssertEqual(result.best.logLikelihood, 0, accuracy: 1e-2)   // exact fit: residual 0
            }
        }
    }

    /// With a per-image scale, an image of `α·C·P` is found at its pose with scale `α` and an exact fit; an empty
    /// image gets a scale near 0. `PoseQuality` gives 1 for every scaled noiseless image at its pose, 0 for the empty
    /// one.
    func testPerImageScaleIsEstimatedAtEachPose() {
        let problem = Problem(seed: 3)
        var random = S.Random(seed: 5)
        let truth: [(rotation: Int, shift: Int, scale: Float)] = [(17, 7, 0.6), (3, 0, 1.0), (42, 4, 1.5)]
        var images = truth.enumerated().map { i, pose in
            problem.image(i, rotation: problem.rotations[pose.rotation], shift: problem.shifts[pose.shift], noise: 0,
                          random: &random).map { $0 * pose.scale }
        }
        images.append([SIMD2<Float>](repeating: .zero, count: images[0].count))
        let power = problem.meanSignalPower(radius: 10)
        let sigma2 = [Double](repeating: power * 0.05, count: 13)
        let batch = PoseImageBatch(box: problem.box, count: 4)
        for (i, image) in images.enumerated() { batch.setImage(i, spectrum: image, ctf: problem.ctfs[min(i, 2)]) }
        let settings = PoseSearchSettings(radius_px: 10, scalePriorPrecision: 1e-6)
        let result = PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                                    shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2), settings: settings)
        let projection = AlignedBuffer<SIMD2<Float>>(count: batch.complexCount)
        let quality = PoseQuality(box: problem.box, radius_px: 10, minRadius_px: 1, noiseVariance: NoiseSpectrum(shells: sigma2))
        for (i, pose) in truth.enumerated() {
            XCTAssertEqual(result[i].best.rotation, pose.rotation, "image \(i)")
            XCTAssertEqual(result[i].best.shift, pose.shift, "image \(i)")
            XCTAssertEqual(result[i].best.scale, Double(pose.scale), accuracy: 1e-3, "image \(i)")
            XCTAssertEqual(result[i].best.logLikelihood, 0, accuracy: 1e-2)
            problem.volume.project(rotation: problem.rotations[pose.rotation], translation_px: problem.shifts[pose.shift],
                                   into: projection.baseAddress)
            let rho = quality.normalisedCorrelation(
                image: batch.spectra.baseAddress + i * batch.complexCount, ctf: batch.ctfs.baseAddress + i * batch.complexCount,
                projection: projection.baseAddress)
            XCTAssertEqual(rho, 1, accuracy: 1e-4, "image \(i)")
        }
        XCTAssertLessThan(result[3].best.scale, 1e-3)
        let rhoEmpty = quality.normalisedCorrelation(
            image: batch.spectra.baseAddress + 3 * batch.complexCount, ctf: batch.ctfs.baseAddress + 2 * batch.complexCount,
            projection: projection.baseAddress)
        XCTAssertEqual(rhoEmpty, 0)
        // Without the scale the image of scale 0.6 no longer fits exactly.
        let fixed = PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                                   shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2),
                                                   settings: PoseSearchSettings(radius_px: 10))
        XCTAssertEqual(fixed[0].best.scale, 1)
        XCTAssertLessThan(fixed[0].best.logLikelihood, -1)
    }

    /// (3) One and two threads give identical outputs.
    func testThreadCountIndependence() {
        let problem = Problem(seed: 11)
        var random = S.Random(seed: 12)
        let power = problem.meanSignalPower(radius: 10)
        let images = (0..<3).map { i in
            problem.image(i, rotation: problem.rotations[i * 5], shift: SIMD2(0.3, -0.7), noise: power, random: &random)
        }
        let sigma2 = [Double](repeating: power * 4, count: 13)
        let batch = problem.batch(images)
        let run = { (threads: Int) in
            PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                           shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2),
                                           settings: PoseSearchSettings(radius_px: 10, threads: threads))
        }
        let one = run(1), two = run(2), three = run(3)
        XCTAssertEqual(one, two)
        XCTAssertEqual(one, three)
        XCTAssertGreaterThan(one.map { $0.poses.count }.max()!, 3, "posterior should not be a delta here")
    }

    /// Without summaries the kept poses, weights and scales are the same; only the ESS and evidence are left out.
    func testSkippedSummariesKeepThePoses() {
        let problem = Problem(seed: 13)
        var random = S.Random(seed: 14)
        let power = problem.meanSignalPower(radius: 10)
        let images = (0..<3).map { i in
            problem.image(i, rotation: problem.rotations[i * 7], shift: SIMD2(0.4, 0.2), noise: power, random: &random)
        }
        let batch = problem.batch(images)
        let run = { (summarises: Bool) in
            PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                           shifts_px: problem.shifts,
                                           noiseVariance: NoiseSpectrum(shells: [Double](repeating: power * 4, count: 13)),
                                           settings: PoseSearchSettings(radius_px: 10, scalePriorPrecision: 4,
                                                                        summarises: summarises))
        }
        let full = run(true), bare = run(false)
        XCTAssertEqual(full.map(\.poses), bare.map(\.poses))
        XCTAssertGreaterThan(full.map { $0.poses.count }.max()!, 3, "posterior should not be a delta here")
        XCTAssertTrue(full.allSatisfy { $0.effectiveSampleSize >= 1 && $0.logEvidence.isFinite })
        XCTAssertTrue(bare.allSatisfy { $0.effectiveSampleSize.isNaN && $0.logEvidence.isNaN })
    }

    /// (4) Volume coefficients outside the radius limit (beyond the trilinear support of the disc of radius r)
    /// do not change the result; changing ones inside does.
    func testRadiusLimit() {
        let problem = Problem(seed: 21)
        var random = S.Random(seed: 22)
        let radius = 6
        let power = problem.meanSignalPower(radius: radius)
        let images = (0..<3).map { i in
            problem.image(i, rotation: problem.rotations[i], shift: .zero, noise: power, random: &random)
        }
        let sigma2 = [Double](repeating: power * 2, count: 13)
        let batch = problem.batch(images)
        let settings = PoseSearchSettings(radius_px: radius)
        let run = {
            PosePosteriorKernel.posteriors(volume: problem.volume, images: batch, rotations: problem.rotations,
                                           shifts_px: problem.shifts, noiseVariance: NoiseSpectrum(shells: sigma2), settings: settings)
        }
        let before = run()
        let grid = problem.volume.grid
        let h = grid.halfExtent
        let limit = grid.scale * Double(radius) + 2
        var changed = 0
        for z in -h...h { for y in -h...h { for x in 0...h {
            let d = Double(x * x + y * y + z * z).squareRoot()
            if d > limit {
                problem.volume.data[grid.index(x: x, y: y, z: z)] = SIMD2(Float(random.next()), Float(random.next())) * 100
                changed += 1
            }
        } } }
        XCTAssertGreaterThan(changed, 1000)
        XCTAssertEqual(run(), before)
        // Inside the radius it matters.
        problem.volume.data[grid.index(x: 3, y: 2, z: 1)] += SIMD2(50, 50)
        XCTAssertNotEqual(run(), before)
    }
}
