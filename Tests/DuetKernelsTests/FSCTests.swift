import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// Deterministic Gaussian samples for the tests.
private struct TestGaussian {
    var generator: SeededGenerator
    init(state: UInt64) { generator = SeededGenerator(seed: state) }
    mutating func next() -> Double { generator.nextGaussian() }
    mutating func volume(_ box: Int, sigma: Double = 1) -> [Float] {
        (0..<(box * box * box)).map { _ in Float(sigma * next()) }
    }
}

/// A soft spherical mask (1 inside `radius`, cosine edge of `edge` voxels), centred at box/2.
private func sphereMask(box: Int, radius: Double, edge: Double) -> [Float] {
    var mask = [Float](repeating: 0, count: box * box * box)
    let c = Double(box / 2)
    for z in 0..<box { for y in 0..<box { for x in 0..<box {
        let r = ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)
                 + (Double(z) - c) * (Double(z) - c)).squareRoot()
        let v: Double = r <= radius ? 1 : (r >= radius + edge ? 0 : 0.5 * (1 + cos(.pi * (r - radius) / edge)))
        mask[(z * box + y) * box + x] = Float(v)
    } } }
    return mask
}

private func add(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 + $1 } }
private func multiply(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 * $1 } }

final class FSCTests: XCTestCase {
    func testSelfFSCIsOne() {
        for box in [32, 33] {
            var rng = TestGaussian(state: 1)
            let v = rng.volume(box)
            let curve = FourierShellCorrelation.curve(v, v, box: box, pixelSize_A: 1.2)
            XCTAssertEqual(curve.shellCount, box / 2 + 1)
            for value in curve.values { XCTAssertEqual(value, 1, accuracy: 1e-12) }
            XCTAssertFalse(curve.crossing(threshold: 0.143).crossed)
            XCTAssertEqual(curve.resolution_A(shell: Double(box / 2)), Double(box) * 1.2 / Double(box / 2))
            // Every Fourier coefficient inside the Nyquist sphere is counted once (full transform).
            XCTAssertEqual(curve.coefficientCounts[0], 1)
            XCTAssertEqual(curve.coefficientCounts[1], 6 + 12 + 8 - 8)   // |k|² ∈ {1, 2}: 6 + 12 = 18 (< 1.5²)
        }
    }

    func testInvariantToScalingOneMap() {
        var rng = TestGaussian(state: 2)
        let box = 32
        let a = rng.volume(box), noise = rng.volume(box)
        let b = add(a, noise)
        let scaled = b.map { $0 * 3.7 }
        let c1 = FourierShellCorrelation.curve(a, b, box: box, pixelSize_A: 1)
        let c2 = FourierShellCorrelation.curve(a, scaled, box: box, pixelSize_A: 1)
        for (x, y) in zip(c1.values, c2.values) { XCTAssertEqual(x, y, accuracy: 1e-6) }   // float32 rounding of 3.7·b
    }

    /// Two copies of a real map with independent white noise: per shell, FSC ≈ SNR / (1 + SNR) with
    /// SNR(s) = P_signal(s) / P_noise(s) (Frank & Al-Ali 1975).
    func testNoisyCopiesFollowSNR() throws {
        let path = CommandRunner.fixtures.appendingPathComponent("aspire/volumes/clean70SRibosome_vol_65p.mrc").path
        let map = try MRCFile.readVolume(path: path)
        let box = map.nx
        var rng = TestGaussian(state: 3)
        let mean = map.data.reduce(0, +) / Float(map.count)
        let signal = map.data.map { $0 - mean }
        let sigma = 0.5 * Double((signal.map { $0 * $0 }.reduce(0, +) / Float(map.count)).squareRoot())
        let n1 = rng.volume(box, sigma: sigma), n2 = rng.volume(box, sigma: sigma)
        let curve = FourierShellCorrelation.curve(add(signal, n1), add(signal, n2), box: box, pixelSize_A: 2.5)
        let ps = FourierShellCorrelation.shellPowerSpectrum(signal, box: box)
        let pn = zip(FourierShellCorrelation.shellPowerSpectrum(n1, box: box),
                     FourierShellCorrelation.shellPowerSpectrum(n2, box: box)).map { ($0 + $1) / 2 }
        var worst = 0.0
        for s in 3..<curve.shellCount {
            let expected = ps[s] / (ps[s] + pn[s])
            let tolerance = 0.03 + 4 / Double(curve.coefficientCounts[s]).squareRoot()
            worst = max(worst, abs(curve.values[s] - expected) / tolerance)
            XCTAssertEqual(curve.values[s], expected, accuracy: tolerance, "shell \(s)")
        }
        let c143 = curve.crossing(threshold: 0.143), c05 = curve.crossing(threshold: 0.5)
        print(String(format: "FSC noisy ribosome copies: 0.5 at %.2f Å (shell %.2f), 0.143 at %.2f Å (shell %.2f); "
                     + "worst |FSC − SNR/(1+SNR)| / tolerance = %.2f", c05.resolution_A, c05.shell,
                     c143.resolution_A, c143.shell, worst))
        XCTAssertTrue(c143.crossed)
        XCTAssertGreaterThan(c143.shell, c05.shell)
    }

    func testThresholdCrossingInterpolates() {
        let curve = FSCCurve(box: 8, pixelSize_A: 1, values: [1, 0.9, 0.6, 0.4, 0.1], coefficientCounts: [1, 1, 1, 1, 1])
        let half = curve.crossing(threshold: 0.5)
        XCTAssertTrue(half.crossed)
        XCTAssertEqual(half.shell, 2.5, accuracy: 1e-12)
        XCTAssertEqual(half.resolution_A, 3.2, accuracy: 1e-12)
        let gold = curve.crossing(threshold: 0.143)
        XCTAssertEqual(gold.shell, 3 + 0.257 / 0.3, accuracy: 1e-12)
        XCTAssertEqual(curve.resolution_A(threshold: 0.143), 8 / (3 + 0.257 / 0.3), accuracy: 1e-12)
        // First crossing, even if the curve comes back up.
        let bumpy = FSCCurve(box: 8, pixelSize_A: 2, values: [1, 0.1, 0.9, 0.9, 0.9], coefficientCounts: [1, 1, 1, 1, 1])
        XCTAssertEqual(bumpy.crossing(threshold: 0.143).shell, 0.857 / 0.9, accuracy: 1e-12)
        let never = FSCCurve(box: 8, pixelSize_A: 1, values: [1, 0.9, 0.9, 0.9, 0.9], coefficientCounts: [1, 1, 1, 1, 1])
        XCTAssertFalse(never.crossing(threshold: 0.143).crossed)
        XCTAssertEqual(never.resolution_A(threshold: 0.143), 2)
    }

    func testPhaseRandomizationKeepsPowerAndLowShells() {
        for box in [32, 31] {
            var rng = TestGaussian(state: 4)
            let v = rng.volume(box)
            let cut = 6
            let r = PhaseRandomization.randomizingPhases(of: v, box: box, beyondShell: cut, seed: 42)
            XCTAssertEqual(r, PhaseRandomization.randomizingPhases(of: v, box: box, beyondShell: cut, seed: 42))
            XCTAssertNotEqual(r, PhaseRandomization.randomizingPhases(of: v, box: box, beyondShell: cut, seed: 43))
            let p0 = FourierShellCorrelation.shellPowerSpectrum(v, box: box)
            let p1 = FourierShellCorrelation.shellPowerSpectrum(r, box: box)
            for s in 0..<p0.count { XCTAssertEqual(p1[s], p0[s], accuracy: 1e-5 * p0[s], "shell \(s)") }
            let fsc = FourierShellCorrelation.curve(v, r, box: box, pixelSize_A: 1)
            for s in 0...cut { XCTAssertEqual(fsc.values[s], 1, accuracy: 1e-6) }
            let beyond = fsc.values[(cut + 2)...]
            let meanBeyond = beyond.reduce(0, +) / Double(beyond.count)
            XCTAssertLessThan(abs(meanBeyond), 0.05)
            XCTAssertLessThan(beyond.map(abs).max()!, 0.3)
        }
    }

    /// With a mask looser than everything in the maps, masking changes nothing and the correction must leave the
    /// curve where the unmasked one is.
    func testMaskedCorrectedMatchesUnmaskedForLooseMask() {
        let box = 40
        var rng = TestGaussian(state: 5)
        let support = sphereMask(box: box, radius: 10, edge: 3)
        // Smooth-ish signal: white noise averaged over 2×2×2 neighbours, confined to the support.
        let white = rng.volume(box)
        var smooth = [Float](repeating: 0, count: white.count)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            var sum: Float = 0
            for dz in 0...1 { for dy in 0...1 { for dx in 0...1 {
                sum += white[(((z + dz) % box) * box + (y + dy) % box) * box + (x + dx) % box]
            } } }
            smooth[(z * box + y) * box + x] = sum / 8
        } } }
        let signal = multiply(smooth, support)
        let a = add(signal, multiply(rng.volume(box, sigma: 0.25), support))
        let b = add(signal, multiply(rng.volume(box, sigma: 0.25), support))
        let mask = sphereMask(box: box, radius: 15, edge: 4)
        let result = FourierShellCorrelation.maskedCorrected(a, b, mask: mask, box: box, pixelSize_A: 1.5, seed: 7)
        let again = FourierShellCorrelation.maskedCorrected(a, b, mask: mask, box: box, pixelSize_A: 1.5, seed: 7)
        XCTAssertEqual(result, again)
        var maxDifference = 0.0, sumDifference = 0.0
        for s in 1..<result.unmasked.shellCount {
            XCTAssertEqual(result.masked.values[s], result.unmasked.values[s], accuracy: 1e-6)
            let d = abs(result.corrected.values[s] - result.unmasked.values[s])
            maxDifference = max(maxDifference, d)
            sumDifference += d
        }
        let beyond = result.phaseRandomizedMasked.values[(result.randomizationShell + 2)...]
        print(String(format: "Masked FSC, loose mask: randomised beyond shell %d; max |FSC_rand| beyond = %.3f; "
                     + "corrected vs unmasked: max |Δ| = %.3f, mean |Δ| = %.4f; 0.143 unmasked %.2f Å, "
                     + "corrected %.2f Å", result.randomizationShell, beyond.map(abs).max()!, maxDifference,
                     sumDifference / Double(result.unmasked.shellCount - 1),
                     result.unmasked.resolution_A(threshold: 0.143), result.corrected.resolution_A(threshold: 0.143)))
        XCTAssertLessThan(sumDifference / Double(result.unmasked.shellCount - 1), 0.03)
        XCTAssertLessThan(maxDifference, 0.12)
    }

    /// A sharp, tight mask on maps that share only a strong low-resolution blob: masking creates common
    /// high-frequency content (the mask edge times the blob), inflating the masked FSC where the true FSC is 0; the
    /// phase-randomised FSC measures that inflation and the corrected curve removes it.
    func testCorrectionRemovesMaskInflation() {
        let box = 48
        var rng = TestGaussian(state: 6)
        let c = Double(box / 2)
        var blob = [Float](repeating: 0, count: box * box * box)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            let r2 = (Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c) + (Double(z) - c) * (Double(z) - c)
            blob[(z * box + y) * box + x] = Float(3 * exp(-r2 / (2 * 36)))
        } } }
        let a = add(blob, rng.volume(box)), b = add(blob, rng.volume(box))
        let mask = sphereMask(box: box, radius: 10, edge: 1)
        let result = FourierShellCorrelation.maskedCorrected(a, b, mask: mask, box: box, pixelSize_A: 1, seed: 11)
        let shells = (result.randomizationShell + 2)..<result.masked.shellCount
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        let masked = mean(shells.map { result.masked.values[$0] })
        let random = mean(shells.map { result.phaseRandomizedMasked.values[$0] })
        let corrected = mean(shells.map { result.corrected.values[$0] })
        let unmasked = mean(shells.map { result.unmasked.values[$0] })
        print(String(format: "Shared blob + independent noise, tight sharp mask: randomised beyond shell %d; mean FSC "
                     + "beyond: unmasked %.3f, masked %.3f, phase-randomised masked %.3f, corrected %.3f",
                     result.randomizationShell, unmasked, masked, random, corrected))
        XCTAssertGreaterThan(masked, 0.1)
        XCTAssertLessThan(abs(corrected), 0.1)
        XCTAssertLessThan(corrected, masked - 0.1)
    }
}
