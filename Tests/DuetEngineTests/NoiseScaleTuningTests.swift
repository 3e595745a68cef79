import DuetComm
import DuetCore
@testable import DuetEngine
import DuetKernels
import XCTest

final class NoiseScaleTuningTests: XCTestCase {
    /// The tuned σ-scale puts the mean ESS fraction of the global posteriors at the target (within the bisection's
    /// tolerance), a higher target gives a higher scale, and one rank or two tune the same scale.
    func testTunedScaleMeetsTheTargetESSFraction() throws {
        let box = CoarseToFineSearchTests.box
        let volume = FourierVolume(map: CoarseToFineSearchTests.blobMap([[4, 0, 0], [-3, 5, 1], [0, -2, 6]]),
                                   grid: FourierGrid(box: box))
        let rotations = [Rotation(axisAngle: [0.3, -0.2, 0.5]), Rotation(axisAngle: [1.2, 0.4, -0.7]),
                         Rotation(axisAngle: [-0.5, 2.0, 0.1]), Rotation(axisAngle: [0.0, -1.1, 1.9])]
        let batch = PoseImageBatch(box: box, count: rotations.count)
        for (i, rotation) in rotations.enumerated() {
            volume.project(rotation: rotation, into: batch.spectra.baseAddress + i * batch.complexCount)
        }
        batch.ctfs.baseAddress.update(repeating: 1, count: batch.count * batch.complexCount)
        let search = CoarseToFineSearch(box: box, diameter_px: 28, radius_px: 4, coarseRadius_px: 4, maxShift_px: 2,
                                        minRadius_px: 1, scalePriorPrecision: nil, maxModes: 1, threads: nil)
        // σ² at scale 1: the images' mean power per coefficient, as `NoiseModel` starts.
        let power = (0..<(batch.count * batch.complexCount)).map { k in
            Double((batch.spectra[k] * batch.spectra[k]).sum()) / 2
        }.reduce(0, +) / Double(batch.count * batch.complexCount)
        let base = NoiseSpectrum(shells: [Double](repeating: power, count: box))
        func tuned(_ target: Double, ranks: Int) throws -> Double {
            try LocalCommunicator.run(size: ranks) { c in
                let positions = (0..<batch.count).filter { $0 % ranks == c.rank }
                return try NoiseScaleTuning(targetFraction: target)
                    .sigmaScale(search: search, volume: volume, batch: batch.subset(positions), positions: positions,
                                sampleCount: batch.count, baseVariance: base, communicator: c)
            }[0]
        }
        func meanFraction(_ scale: Double) -> Double {
            let f = search.globalESSFractions(volume: volume, batch: batch, noiseVariance: base.scaled(by: scale * scale))
            return f.reduce(0, +) / Double(f.count)
        }
        let scale = try tuned(0.011, ranks: 1)
        XCTAssertGreaterThan(scale, NoiseScaleTuning.range.lower)
        XCTAssertLessThan(scale, NoiseScaleTuning.range.upper)
        XCTAssertEqual(meanFraction(scale), 0.011, accuracy: 0.002)
        XCTAssertGreaterThan(try tuned(0.05, ranks: 1), scale)
        XCTAssertEqual(try tuned(0.011, ranks: 2), scale)
    }
}
