import DuetCore
@testable import DuetEngine
import DuetKernels
import XCTest

final class CoarseToFineSearchTests: XCTestCase {
    static let box = 32

    /// A map of Gaussian blobs at `centres` (voxels from the box centre).
    static func blobMap(_ centres: [SIMD3<Double>], sigma: Double = 2) -> [Float] {
        let b = box
        var map = [Float](repeating: 0, count: b * b * b)
        for z in 0..<b { for y in 0..<b { for x in 0..<b {
            let p = SIMD3(Double(x - b / 2), Double(y - b / 2), Double(z - b / 2))
            var density = 0.0
            for c in centres {
                let d = p - c
                density += exp(-(d * d).sum() / (2 * sigma * sigma))
            }
            map[x + b * (y + b * z)] = Float(density)
        } } }
        return map
    }

    /// One noiseless image of `volume` at `rotation` (CTF 1).
    static func image(of volume: FourierVolume, at rotation: Rotation) -> PoseImageBatch {
        let batch = PoseImageBatch(box: box, count: 1)
        volume.project(rotation: rotation, into: batch.spectra.baseAddress)
        batch.ctfs.baseAddress.update(repeating: 1, count: batch.complexCount)
        return batch
    }

    /// Scoring two disjoint rotation sets separately and merging them gives the posterior of one evaluation over
    /// their union: the same poses, weights and effective sample size.
    func testMergedPosteriorEqualsOneEvaluationOverTheUnion() {
        let volume = FourierVolume(map: Self.blobMap([[4, 0, 0], [-3, 5, 1], [0, -2, 6]]), grid: FourierGrid(box: Self.box))
        let truth = Rotation(axisAngle: [0.3, -0.2, 0.5])
        let image = Self.image(of: volume, at: truth)
        let rotations = SO3LocalGrid.rotations(around: truth, step_deg: 4, radius_deg: 9)
        let shifts = CoarseToFineSearch.shiftGrid(halfWidth: 1, step: 0.5, around: .zero)
        let noise = NoiseSpectrum(shells: [Double](repeating: 20000, count: Self.box))
        let settings = PoseSearchSettings(radius_px: 8)
        func score(_ subset: ArraySlice<Rotation>) -> ScoredPosterior {
            let list = Array(subset)
            let p = PosePosteriorKernel.posteriors(volume: volume, images: image, rotations: list, shifts_px: shifts,
                                                   noiseVariance: noise, settings: settings)[0]
            return ScoredPosterior(p, rotations: list, shifts: shifts)
        }
        let whole = score(rotations[...]).weighted
        let split = rotations.count / 3
        let merged = ScoredPosterior(merging: [score(rotations[..<split]), score(rotations[split...])]).weighted
        XCTAssertGreaterThan(whole.ess, 3, "the test needs a posterior that is not a delta")
        XCTAssertEqual(merged.ess, whole.ess, accuracy: 1e-9 * whole.ess)
        XCTAssertEqual(merged.poses.count, whole.poses.count)
        for (m, w) in zip(merged.poses, whole.poses) {
            XCTAssertEqual(m.rotation.angularDistance_rad(to: w.rotation), 0, accuracy: 1e-12)
            XCTAssertEqual(m.shift_px, w.shift_px)
            XCTAssertEqual(m.weight, w.weight, accuracy: 1e-9)
        }
    }

    /// Modes are the most likely poses that are significant and apart from every mode already chosen.
    func testModesAreSignificantAndSeparated() {
        let axis = SIMD3<Double>(0, 0, 1)
        let angles_deg = [0.0, 5, 60, 120, 170]
        let logLikelihoods = [0.0, -0.1, -1, -2.5, -10]   // weights relative to the best: 1, 0.9, 0.37, 0.08, 5e-5
        let rotations = angles_deg.map { Rotation(axisAngle: axis * ($0 * .pi / 180)) }
        let poses = logLikelihoods.enumerated().map { PoseWeight(rotation: $0, shift: 0, weight: 0, logLikelihood: $1) }
        let posterior = PosePosterior(poses: poses, best: poses[0], effectiveSampleSize: 2, logEvidence: 0,
                                      evaluatedPoseCount: poses.count)
        let scored = ScoredPosterior(posterior, rotations: rotations, shifts: [.zero])
        func chosen(_ count: Int) -> [Double] {
            scored.modes(count: count, separation_rad: 20 * .pi / 180).map {
                ($0.rotation.angularDistance_rad(to: .identity) * 180 / .pi).rounded()
            }
        }
        XCTAssertEqual(chosen(8), [0, 60, 120], "5° is too close to 0°; 170° is below the mode threshold")
        XCTAssertEqual(chosen(2), [0, 60])
        XCTAssertEqual(chosen(1), [0])
    }

    /// An image of a two-fold symmetric map fits two orientations 180° apart equally well. Refining several modes
    /// keeps both in the posterior; refining only the best pose loses one of them.
    func testAmbiguousImageKeepsBothOrientations() {
        let map = Self.blobMap([[5, 1, 2], [-5, -1, 2], [2, 4, -3], [-2, -4, -3]])   // symmetric under 180° about z
        let volume = FourierVolume(map: map, grid: FourierGrid(box: Self.box))
        let truth = Rotation(axisAngle: [0.4, 0.9, -0.3])
        let twin = truth * Rotation(axisAngle: [0, 0, .pi])
        let image = Self.image(of: volume, at: truth)
        let noise = NoiseSpectrum(shells: [Double](repeating: 20, count: Self.box))
        func massNear(_ target: Rotation, modes: Int) -> Double {
            let search = CoarseToFineSearch(box: Self.box, diameter_px: 28, radius_px: 12, coarseRadius_px: 8,
                                            maxShift_px: 1, minRadius_px: 0,
                                            scalePriorPrecision: nil, maxModes: modes, threads: nil)
            let poses = search.search(volume: volume, batch: image, noiseVariance: noise)[0].poses
            return poses.filter { $0.rotation.angularDistance_rad(to: target) < 10 * .pi / 180 }.map(\.weight).reduce(0, +)
        }
        let (nearTruth, nearTwin) = (massNear(truth, modes: 4), massNear(twin, modes: 4))
        XCTAssertGreaterThan(nearTruth, 0.25)
        XCTAssertGreaterThan(nearTwin, 0.25)
        XCTAssertGreaterThan(nearTruth + nearTwin, 0.95)
        XCTAssertLessThan(min(massNear(truth, modes: 1), massNear(twin, modes: 1)), 0.01)
    }

    /// Images are refined in parallel and the global level's rotation blocks are claimed by whichever thread is
    /// free: the posteriors (poses, weights, scales, ESS) are nevertheless identical at 1 and 3 threads, for the
    /// global-then-local search and the local search alike.
    func testSearchIsIndependentOfTheThreadCount() {
        let volume = FourierVolume(map: Self.blobMap([[4, 0, 0], [-3, 5, 1], [0, -2, 6]]), grid: FourierGrid(box: Self.box))
        let truths = (0..<5).map { Rotation(axisAngle: [0.3 * Double($0), -0.2, 0.5 + 0.4 * Double($0)]) }
        let batch = PoseImageBatch(box: Self.box, count: truths.count)
        for (i, truth) in truths.enumerated() {
            volume.project(rotation: truth, into: batch.spectra.baseAddress + i * batch.complexCount)
        }
        batch.ctfs.baseAddress.update(repeating: 1, count: truths.count * batch.complexCount)
        let noise = NoiseSpectrum(shells: [Double](repeating: 5, count: Self.box))
        func posteriors(threads: Int) -> [[Double]] {
            let search = CoarseToFineSearch(box: Self.box, diameter_px: 28, radius_px: 12, coarseRadius_px: 8,
                                            maxShift_px: 2, minRadius_px: 0, scalePriorPrecision: 4, maxModes: 3,
                                            threads: threads)
            let global = search.search(volume: volume, batch: batch, noiseVariance: noise)
            let local = search.searchLocally(volume: volume, batch: batch, around: truths.map { ($0, .zero) },
                                             noiseVariance: noise)
            return (global + local).map { posterior in
                [posterior.ess] + posterior.poses.flatMap { pose in
                    let q = pose.rotation.quaternionVector
                    return [q.x, q.y, q.z, q.w, pose.shift_px.x, pose.shift_px.y, pose.weight, pose.scale]
                }
            }
        }
        let one = posteriors(threads: 1)
        XCTAssertEqual(one.count, 2 * truths.count)
        XCTAssertTrue(one.allSatisfy { $0.count > 1 })
        XCTAssertEqual(posteriors(threads: 3), one)
    }

    /// A local search from a pose a few needed steps off (rotation) and 1 px off (shift) lands within one needed
    /// step of the true pose; one started 90° off stays far from it (its levels reach about 7 needed steps).
    func testLocalSearchRecoversANearbyPoseOnly() {
        let volume = FourierVolume(map: Self.blobMap([[4, 0, 0], [-3, 5, 1], [0, -2, 6]]), grid: FourierGrid(box: Self.box))
        let truth = Rotation(axisAngle: [0.3, -0.2, 0.5])
        let image = Self.image(of: volume, at: truth)
        let noise = NoiseSpectrum(shells: [Double](repeating: 20, count: Self.box))
        let search = CoarseToFineSearch(box: Self.box, diameter_px: 28, radius_px: 12, coarseRadius_px: 8,
                                        maxShift_px: 3, minRadius_px: 0, scalePriorPrecision: nil, maxModes: 2,
                                        threads: nil)
        let step = search.neededStep_deg * .pi / 180
        func best(from start: Rotation, shift_px: SIMD2<Double>) -> WeightedPose {
            search.searchLocally(volume: volume, batch: image, around: [(start, shift_px)], noiseVariance: noise)[0].poses[0]
        }
        let near = best(from: Rotation(axisAngle: [0, 2.5 * step, 0]) * truth, shift_px: [1, 0])
        XCTAssertLessThan(near.rotation.angularDistance_rad(to: truth), step)
        XCTAssertEqual(near.shift_px, .zero)
        let far = best(from: Rotation(axisAngle: [0, 0, 90 * .pi / 180]) * truth, shift_px: .zero)
        XCTAssertGreaterThan(far.rotation.angularDistance_rad(to: truth), 30 * .pi / 180)
    }

    /// With `oversampling` 2 the last level goes on to half the needed step, so a pose between grid points is found
    /// more closely (noiseless images at off-grid truths, a local search from a pose about one needed step away):
    /// the mean error falls, and every pose lies within half a needed step of the truth.
    func testOversamplingFindsOffGridPosesMoreClosely() {
        let volume = FourierVolume(map: Self.blobMap([[4, 0, 0], [-3, 5, 1], [0, -2, 6]]), grid: FourierGrid(box: Self.box))
        let noise = NoiseSpectrum(shells: [Double](repeating: 2, count: Self.box))
        func search(_ oversampling: Int) -> CoarseToFineSearch {
            CoarseToFineSearch(box: Self.box, diameter_px: 28, radius_px: 12, coarseRadius_px: 8, maxShift_px: 1,
                               minRadius_px: 0, scalePriorPrecision: nil, maxModes: 2, oversampling: oversampling,
                               threads: nil)
        }
        let step = search(1).neededStep_deg * .pi / 180
        var errors: [[Double]] = [[], []]
        let cases: [(axis: SIMD3<Double>, offset: SIMD3<Double>)] = [
            ([0.31, -0.22, 0.52], [0, 1.3, 0]), ([-0.7, 0.1, 0.35], [0.9, 0, 0.6]), ([0.05, 0.9, -0.4], [0.45, -1.1, 0.2]),
        ]
        for (axis, offset) in cases {
            let truth = Rotation(axisAngle: axis)
            let image = Self.image(of: volume, at: truth)
            let start = Rotation(axisAngle: offset * step) * truth
            for oversampling in 1...2 {
                let best = search(oversampling).searchLocally(volume: volume, batch: image, around: [(start, .zero)],
                                                              noiseVariance: noise)[0].poses[0]
                errors[oversampling - 1].append(best.rotation.angularDistance_rad(to: truth) / step)
            }
        }
        print("errors in needed steps: grid \(errors[0]), oversampled \(errors[1])")
        XCTAssertLessThan(errors[1].reduce(0, +), errors[0].reduce(0, +))
        XCTAssertTrue(errors[1].allSatisfy { $0 <= 0.5 }, "\(errors[1])")
    }
}
