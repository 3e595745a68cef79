import DuetCore
@testable import DuetKernels
import DuetTestSupport
import XCTest

final class CroppedRealSpaceTests: XCTestCase {
    typealias S = KernelTestSupport

    /// A volume of box 40 holding smooth blobs, band-limited to image radius 6.
    private func bandLimitedVolume() -> FourierVolume {
        FourierVolume(map: S.blobVolume(box: 40, blobs: S.testBlobs), grid: FourierGrid(box: 40, maxRadius_px: 6))
    }

    /// The largest difference between `a` and `b` over the coefficients of padded radius ≤ `radius`, and the
    /// largest magnitude of `a` there.
    private func maxDifference(_ a: FourierVolume, _ b: FourierVolume,
                               radius: Int) -> (difference: Float, largest: Float) {
        var difference: Float = 0, largest: Float = 0
        let g = a.grid
        for z in -radius...radius {
            for y in -radius...radius {
                for x in 0...radius where x * x + y * y + z * z <= radius * radius {
                    let u = a.data[g.index(x: x, y: y, z: z)], d = u - b.data[g.index(x: x, y: y, z: z)]
                    difference = max(difference, abs(d.x), abs(d.y))
                    largest = max(largest, abs(u.x), abs(u.y))
                }
            }
        }
        return (difference, largest)
    }

    /// Cropping to any box that holds the band and putting the map back gives the coefficients back, as the
    /// volume's own map and `init(map:)` do: exactly but for what the band's edge rings outside the map's box
    /// (checked inside two thirds of the band).
    func testLoadThenStoreGivesTheCoefficientsBack() {
        let volume = bandLimitedVolume()
        for box in [16, 20, 40] {
            let space = CroppedRealSpace(box: box)
            let copy = FourierVolume(grid: volume.grid)
            space.load(from: volume)
            space.store(into: copy)
            let (difference, largest) = maxDifference(volume, copy, radius: 8)
            XCTAssertLessThan(difference, 2e-3 * largest, "box \(box)")
        }
    }

    /// The cropped map is the volume's map sampled on larger voxels: Fourier-padded back to the volume's box it
    /// equals `FourierVolume.map`, and at the volume's own box it is that map.
    func testTheCroppedMapIsTheVolumesMap() {
        let volume = bandLimitedVolume()
        let full = volume.map(fftwThreads: 1)
        let same = CroppedRealSpace(box: 40)
        same.load(from: volume)
        let largest = full.map(abs).max()!
        XCTAssertLessThan(zip(same.map.toArray(), full).map { abs($0 - $1) }.max()!, 1e-5 * largest)
        let cropped = CroppedRealSpace(box: 16)
        cropped.load(from: volume)
        let padded = cropped.uncropped(volumeBox: 40)
        XCTAssertLessThan(zip(padded, full).map { abs($0 - $1) }.max()!, 1e-2 * largest)
        XCTAssertGreaterThan(TestMetrics.ncc(padded, full), 0.9999)
    }

    /// Storing with a shift moves the map by that many of the cropped map's voxels (a compact blob's centre of
    /// mass follows it), and coefficients beyond the cropped band are cleared.
    func testStoreShiftsTheMapAndClearsWhatTheBoxDoesNotCarry() throws {
        let space = CroppedRealSpace(box: 16)
        let blob = S.blobVolume(box: 16, blobs: [S.Blob(centre: [0.5, -1, 1], sigma: 1.5, amplitude: 1)])
        blob.withUnsafeBufferPointer { space.map.baseAddress.update(from: $0.baseAddress!, count: blob.count) }
        let before = try XCTUnwrap(RealSpaceConstraints.centreOfMass(UnsafeBufferPointer(space.map.buffer), box: 16))
        let volume = FourierVolume(grid: FourierGrid(box: 40))
        let shift = SIMD3(0.75, -1.5, 0.5)
        space.store(into: volume, shift_px: shift)
        space.load(from: volume)
        let after = try XCTUnwrap(RealSpaceConstraints.centreOfMass(UnsafeBufferPointer(space.map.buffer), box: 16))
        for axis in 0..<3 { XCTAssertEqual(after[axis] - before[axis], shift[axis], accuracy: 0.03, "axis \(axis)") }
        // (0.03 voxel: the radial gridding correction, divided at the old position and multiplied at the new one,
        // tilts the blob a little.) What the cropped box does not carry is cleared: a volume with the whole band
        // keeps padded radius < 16.
        let whole = FourierVolume(map: S.blobVolume(box: 40, blobs: S.testBlobs), grid: FourierGrid(box: 40))
        space.load(from: whole)
        space.store(into: whole)
        let g = whole.grid
        XCTAssertEqual(whole.data[g.index(x: 16, y: 0, z: 0)], .zero)
        XCTAssertNotEqual(whole.data[g.index(x: 14, y: 0, z: 0)], .zero)
    }

    func testBoxesAreEvenWithSmallFactors() {
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 30, volumeBox: 256), 30)
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 211, volumeBox: 256), 216)
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 250, volumeBox: 256), 250)
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 251, volumeBox: 256), 252)
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 300, volumeBox: 256), 256)
        XCTAssertEqual(CroppedRealSpace.box(atLeast: 300, volumeBox: 65), 66)
    }

    /// A slice in the compact layout of its radius holds the same values as in the image's layout, and
    /// back-projecting either gives the same fixed-point sums.
    func testCompactSlicesMatchTheImageLayout() {
        let box = 40, radius = 9
        let volume = FourierVolume(map: S.blobVolume(box: box, blobs: S.testBlobs), grid: FourierGrid(box: box))
        let compact = SliceLayout.compact(radius_px: radius, imageBox: box)
        XCTAssertEqual(compact.box, 20)
        let rotation = Rotation(relion: RelionEulerAngles(rot_deg: 37.3, tilt_deg: 71.9, psi_deg: -122.4))
        let shift = SIMD2(2.5, -1.25)
        let full = AlignedBuffer<SIMD2<Float>>(count: box * (box / 2 + 1))
        let small = AlignedBuffer<SIMD2<Float>>(count: compact.complexCount)
        volume.project(rotation: rotation, translation_px: shift, radius_px: radius, into: full.baseAddress)
        volume.project(rotation: rotation, translation_px: shift, radius_px: radius, layout: compact,
                       into: small.baseAddress)
        let image = SliceLayout(box: box)
        for ky in -radius...radius {
            for kx in 0...radius where kx * kx + ky * ky <= radius * radius {
                XCTAssertEqual(small[compact.index(kx: kx, ky: ky)], full[image.index(kx: kx, ky: ky)])
            }
        }
        let weightsFull = AlignedBuffer<Float>([Float](repeating: 1, count: full.count))
        let weightsSmall = AlignedBuffer<Float>([Float](repeating: 1, count: small.count))
        let a = ExactBackProjector(grid: volume.grid, radius_px: radius, scale: 0x1p30)
        let b = ExactBackProjector(grid: volume.grid, radius_px: radius, scale: 0x1p30)
        a.insert(slices: full.baseAddress, sliceStride: full.count, sliceWeights: weightsFull.baseAddress,
                 weightStride: full.count, rotations: [rotation], translations_px: [shift])
        b.insert(slices: small.baseAddress, sliceStride: small.count, sliceWeights: weightsSmall.baseAddress,
                 weightStride: small.count, rotations: [rotation], translations_px: [shift], layout: compact)
        XCTAssertEqual(a.cells.toArray(), b.cells.toArray())
    }
}
