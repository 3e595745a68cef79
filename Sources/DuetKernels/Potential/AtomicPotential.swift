import DuetCore
import Foundation

/// The electrostatic potential of an atomic model on a cubic grid, band-limited at Nyquist: the continuous
/// potential V(r) = C·Σ_atoms occ·∫ f(q)·exp(−B q²/4)·e^{2πi q·(r − x)} d³q (f: `ElectronScattering`, C = h²/(2π m₀ e)
/// = 47.878 V·Å², so V is in volts) sampled from its Fourier coefficients inside the Nyquist sphere, with no
/// aliasing and no added blur. The model's centre (mean atom position) goes to voxel `box/2` (Duet's and RELION's
/// map origin); the map is x fastest.
public enum AtomicPotential {
    /// h²/(2π m₀ e) in V·Å²: the factor from scattering amplitude (Å) to potential (V) per Å³ of q-space.
    public static let voltsPerScatteringAngstrom = 47.878

    /// The potential map (box³ floats, volts) of atoms with `elements`, `positions_A`, `bFactors_A2` and
    /// `occupancies`; throws for an element without scattering factors. Runs on `threads` workers.
    public static func map(elements: [String], positions_A: [SIMD3<Double>], bFactors_A2: [Double],
                           occupancies: [Double], box: Int, pixelSize_A: Double, threads: Int? = nil) throws -> [Float] {
        precondition(box >= 2 && box % 2 == 0, "AtomicPotential: box must be even")
        let count = positions_A.count
        precondition(elements.count == count && bFactors_A2.count == count && occupancies.count == count)
        if let unknown = elements.first(where: { ElectronScattering.table[$0] == nil }) {
            throw DuetError("no electron scattering factors for element \(unknown) (known: "
                            + ElectronScattering.elements.sorted().joined(separator: " ") + ")")
        }
        let centre = positions_A.reduce(SIMD3<Double>(), +) / Double(max(1, count))
        let origin = SIMD3(repeating: Double(box / 2) * pixelSize_A)
        // Atoms grouped by element and B-factor (to 0.1 Å²): one scattering curve per group.
        var groups: [String: [Int]] = [:]
        for i in 0..<count {
            groups["\(elements[i]) \(Int((bFactors_A2[i] * 10).rounded()))", default: []].append(i)
        }

        let halfX = box / 2 + 1, nyquist2 = (box / 2) * (box / 2)
        let spectrum = AlignedBuffer<SIMD2<Double>>(count: box * box * halfX)
        spectrum.zero()
        let frequencyStep = 1 / (Double(box) * pixelSize_A)   // 1/Å per Fourier index
        let structure = AlignedBuffer<SIMD2<Double>>(count: box * box * halfX)
        for members in groups.values.sorted(by: { $0[0] < $1[0] }) {
            let first = members[0]
            // The group's scattering curve on every integer |k|² inside the Nyquist sphere.
            let curve = (0...nyquist2).map { k2 in
                ElectronScattering.factor(elements[first], q_perA: Double(k2).squareRoot() * frequencyStep,
                                          bFactor_A2: bFactors_A2[first])!
            }
            structure.zero()
            nonisolated(unsafe) let s = structure.baseAddress
            let positions = members.map { positions_A[$0] - centre + origin }, weights = members.map { occupancies[$0] }
            // Structure factor Σ occ·e^{−2πi k·x/(box·p)}, each worker on its own z-planes.
            ParallelFor.run(count: box, threads: threads) { planes in
                var phaseX = [SIMD2<Double>](repeating: .zero, count: halfX)
                var phaseY = [SIMD2<Double>](repeating: .zero, count: box)
                for (atom, position) in positions.enumerated() {
                    let angle = -2 * Double.pi * frequencyStep * position
                    for k in 0..<halfX { phaseX[k] = SIMD2(cos(angle.x * Double(k)), sin(angle.x * Double(k))) }
                    for j in 0..<box {
                        let k = Double(FourierIndexing.signedFrequency(index: j, size: box))
                        phaseY[j] = SIMD2(cos(angle.y * k), sin(angle.y * k))
                    }
                    for l in planes {
                        let kz = FourierIndexing.signedFrequency(index: l, size: box)
                        let z = SIMD2(cos(angle.z * Double(kz)), sin(angle.z * Double(kz))) * weights[atom]
                        for j in 0..<box {
                            let ky = FourierIndexing.signedFrequency(index: j, size: box)
                            let remaining = nyquist2 - ky * ky - kz * kz
                            guard remaining >= 0 else { continue }
                            let yz = complexProduct(z, phaseY[j])
                            let row = s + (l * box + j) * halfX
                            // k from 0 to the edge of the Nyquist sphere on this row.
                            for k in 0...min(halfX - 1, Int(Double(remaining).squareRoot())) {
                                row[k] += complexProduct(yz, phaseX[k])
                            }
                        }
                    }
                }
            }
            for l in 0..<box {
                let kz = FourierIndexing.signedFrequency(index: l, size: box)
                for j in 0..<box {
                    let ky = FourierIndexing.signedFrequency(index: j, size: box)
                    for k in 0..<halfX where k * k + ky * ky + kz * kz <= nyquist2 {
                        let index = (l * box + j) * halfX + k
                        spectrum[index] += structure[index] * curve[k * k + ky * ky + kz * kz]
                    }
                }
            }
        }
        // V(r_j) = C·Σ_k F(q_k) e^{2πi q_k·r_j}·Δq³, Δq = 1/(box·p); `inverse` divides by box³.
        let fft = RealFFT<Double>(cube: box)
        let real = AlignedBuffer<Double>(count: box * box * box)
        fft.inverse(spectrum.baseAddress, real.baseAddress)
        let scale = voltsPerScatteringAngstrom / (pixelSize_A * pixelSize_A * pixelSize_A)
        return (0..<(box * box * box)).map { Float(real[$0] * scale) }
    }

    @inline(__always)
    private static func complexProduct(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> SIMD2<Double> {
        SIMD2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x)
    }
}
