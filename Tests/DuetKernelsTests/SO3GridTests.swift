import DuetCore
import DuetKernels
import Foundation
import XCTest

/// Deterministic uniform random rotations (normalised 4-D Gaussian quaternions).
private struct RandomRotations {
    var generator: SeededGenerator
    init(state: UInt64) { generator = SeededGenerator(seed: state) }
    mutating func uniform() -> Double { generator.nextUnit() }
    private mutating func gaussian() -> Double { generator.nextGaussian() }
    mutating func quaternion() -> SIMD4<Double> {
        let q = SIMD4(gaussian(), gaussian(), gaussian(), gaussian())
        let n = q / (q * q).sum().squareRoot()
        return n[0] < 0 ? -n : n
    }
    mutating func direction() -> SIMD3<Double> {
        let v = SIMD3(gaussian(), gaussian(), gaussian())
        return v / (v * v).sum().squareRoot()
    }
}

private func unitVector(theta: Double, phi: Double) -> SIMD3<Double> {
    SIMD3(sin(theta) * cos(phi), sin(theta) * sin(phi), cos(theta))
}

final class SO3GridTests: XCTestCase {
    func testHealpixKnownPixelsAndUniformity() {
        // nside 1: ring 1 at z = 2/3 starting at φ = π/4, ring 2 on the equator starting at φ = 0.
        let p0 = HealpixRing.angles(pixel: 0, nside: 1), p4 = HealpixRing.angles(pixel: 4, nside: 1)
        XCTAssertEqual(cos(p0.theta), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(p0.phi, .pi / 4, accuracy: 1e-12)
        XCTAssertEqual(p4.theta, .pi / 2, accuracy: 1e-12)
        XCTAssertEqual(p4.phi, 0, accuracy: 1e-12)
        // nside 2, pixel 0: polar cap ring 1, z = 1 − 1/12, φ = π/4.
        let q0 = HealpixRing.angles(pixel: 0, nside: 2)
        XCTAssertEqual(cos(q0.theta), 1 - 1.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(q0.phi, .pi / 4, accuracy: 1e-12)

        for nside in [1, 2, 4, 8] {
            let npix = 12 * nside * nside
            let dirs = (0..<npix).map { p -> SIMD3<Double> in
                let a = HealpixRing.angles(pixel: p, nside: nside)
                return unitVector(theta: a.theta, phi: a.phi)
            }
            let mean = dirs.reduce(SIMD3<Double>.zero, +) / Double(npix)
            XCTAssertLessThan((mean * mean).sum().squareRoot(), 1e-12, "nside \(nside)")
            // Equal-area pixels: the nearest-neighbour spacing stays close to sqrt(4π / npix).
            let pixelSize = (4 * Double.pi / Double(npix)).squareRoot()
            var minNN = Double.infinity, maxNN = 0.0
            for i in 0..<npix {
                var best = Double.infinity
                for j in 0..<npix where j != i { best = min(best, acos(min(1, (dirs[i] * dirs[j]).sum()))) }
                minNN = min(minNN, best); maxNN = max(maxNN, best)
            }
            XCTAssertGreaterThan(minNN, 0.6 * pixelSize, "nside \(nside)")
            XCTAssertLessThan(maxNN, 1.4 * pixelSize, "nside \(nside)")
        }
    }

    func testGridPointsAreRelionRotations() {
        let grid = SO3Grid(order: 1)
        XCTAssertEqual(grid.count, 72 * 8)
        XCTAssertEqual(grid.directionCount, 48)
        XCTAssertEqual(grid.psiCount, 12)
        XCTAssertEqual(grid.step_deg, 30)
        XCTAssertEqual(SO3Grid(maxStep_deg: 7.5).order, 3)
        XCTAssertEqual(SO3Grid(maxStep_deg: 5).order, 4)
        for index in stride(from: 0, to: grid.count, by: 7) {
            let fromAngles = Rotation(relion: grid.relionAngles(at: index))
            XCTAssertLessThan(fromAngles.angularDistance_rad(to: grid.rotation(at: index)), 1e-12)
            let q = grid.quaternions[index]
            XCTAssertEqual((q * q).sum(), 1, accuracy: 1e-12)
            XCTAssertGreaterThanOrEqual(q[0], 0)
            let back = grid.rotation(at: index).quaternionVector
            XCTAssertLessThan(so3Distance_rad(back, q), 1e-7)
        }
        // The grid's distance agrees with Rotation's.
        let a = grid.rotation(at: 5), b = grid.rotation(at: 300)
        XCTAssertEqual(so3Distance_rad(grid.quaternions[5], grid.quaternions[300]), a.angularDistance_rad(to: b),
                       accuracy: 1e-9)
    }

    /// Covering radius (largest distance from a random rotation to its nearest grid point) and median distance,
    /// measured with uniform random rotations.
    func testMeasuredSpacing() {
        var random = RandomRotations(state: 99)
        for (order, queries) in [(1, 3000), (2, 3000), (3, 2000), (4, 500)] {
            let start = Date()
            let grid = SO3Grid(order: order)
            let index = SO3NeighbourIndex(grid: grid)
            let built = Date().timeIntervalSince(start)
            var distances = (0..<queries).map { _ in index.nearest(to: random.quaternion()).distance_rad * 180 / .pi }
            distances.sort()
            let queryTime = Date().timeIntervalSince(start) - built
            // Nearest-neighbour spacing between grid points, from a sample of them.
            var spacing = [Double]()
            for i in stride(from: 0, to: grid.count, by: max(1, grid.count / 300)) {
                let near = index.neighbours(ofIndex: i, within: 2 * grid.step_deg * .pi / 180)
                spacing.append(near.map { so3Distance_rad(grid.quaternions[i], grid.quaternions[$0]) }.min()! * 180 / .pi)
            }
            spacing.sort()
            print(String(format: "SO3Grid order %d: %d rotations, nominal step %.3f°; covering radius (max of %d) %.3f°, "
                         + "median %.3f°; nearest-neighbour spacing min %.3f° median %.3f°; build %.2f s, %.1f µs/query",
                         order, grid.count, grid.step_deg, queries, distances.last!, distances[queries / 2],
                         spacing.first!, spacing[spacing.count / 2], built, queryTime / Double(queries) * 1e6))
            XCTAssertLessThan(distances.last!, grid.step_deg)
            XCTAssertLessThan(distances[queries / 2], 0.6 * grid.step_deg)
        }
    }

    func testNeighbourQueriesMatchBruteForce() {
        let grid = SO3Grid(order: 2)
        let index = SO3NeighbourIndex(grid: grid)
        var random = RandomRotations(state: 5)
        for trial in 0..<40 {
            let q = trial.isMultiple(of: 2) ? random.quaternion() : grid.quaternions[trial * 61 % grid.count]
            for radius_deg in [5.3, 15.7, 40, 100] {   // not at exact grid spacings (ties)
                let radius = radius_deg * .pi / 180
                let expected = (0..<grid.count).filter { so3Distance_rad(q, grid.quaternions[$0]) <= radius }
                XCTAssertEqual(index.neighbours(of: q, within: radius), expected, "trial \(trial) radius \(radius_deg)")
            }
            let nearest = index.nearest(to: q)
            let brute = (0..<grid.count).map { so3Distance_rad(q, grid.quaternions[$0]) }.min()!
            XCTAssertEqual(nearest.distance_rad, brute, accuracy: 1e-12)
        }
        // Sign of the query does not matter.
        let q = random.quaternion()
        XCTAssertEqual(index.neighbours(of: q, within: 0.3), index.neighbours(of: -q, within: 0.3))
    }

    func testLocalGridAroundRotation() {
        let offsets = SO3LocalGrid.offsets(step_deg: 1, radius_deg: 2)
        XCTAssertEqual(offsets.count, 33)   // lattice points of ℤ³ in a ball of radius 2
        XCTAssertEqual(offsets[0], .zero)
        let center = Rotation(relion: RelionEulerAngles(rot_deg: 37, tilt_deg: 101, psi_deg: -58))
        let local = SO3LocalGrid.rotations(around: center, step_deg: 1, radius_deg: 3)
        XCTAssertEqual(local[0], center)
        for r in local { XCTAssertLessThanOrEqual(r.angularDistance_rad(to: center) * 180 / .pi, 3 + 1e-9) }
        // Every rotation within 2° of the centre lies within √3/2 · 1° (+ curvature) of a local grid point.
        let index = SO3NeighbourIndex(quaternions: local.map(\.quaternionVector), typicalRadius_rad: .pi / 180)
        var random = RandomRotations(state: 8)
        var worst = 0.0
        for _ in 0..<500 {
            let d = random.direction() * (2 * .pi / 180 * pow(random.uniform(), 1.0 / 3))
            let target = Rotation(axisAngle: d) * center
            worst = max(worst, index.nearest(to: target.quaternionVector).distance_rad * 180 / .pi)
        }
        print(String(format: "SO3LocalGrid step 1°, radius 3°: %d rotations, covering radius within 2° = %.3f°",
                     local.count, worst))
        XCTAssertLessThan(worst, 0.87 + 0.02)
    }
}
