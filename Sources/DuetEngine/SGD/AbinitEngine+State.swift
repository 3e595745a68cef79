import DuetComm
import DuetCore
import DuetKernels
import Foundation

/// The whole state of one half-set's SGD between iterations, in a form that does not depend on the rank count:
/// enough to continue and reach the same result as an uninterrupted run.
struct AbinitState: Equatable {
    var iteration: Int
    var generator: [UInt64]
    var order: [Int]
    var noiseVariance: [Double]
    /// The Fourier volume's storage (`FourierGrid` layout), real and imaginary interleaved.
    var volume: [Float]
    /// Every particle's assignment record in set order (`ParticleAssignment.record`).
    var assignments: [Double]

    private static let magic = Array("DUETSGD2".utf8)

    /// A little-endian binary encoding: magic, then each field as a length-prefixed array, then the FNV-1a 64-bit
    /// checksum of everything before it, so that a damaged file is refused on resume.
    var encoded: Data {
        var data = Data(Self.magic)
        func append<T: BitwiseCopyable>(_ values: [T]) {
            var count = Int64(values.count)
            withUnsafeBytes(of: &count) { data.append(contentsOf: $0) }
            values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        append([Int64(iteration)])
        append(generator)
        append(order.map(Int64.init))
        append(noiseVariance)
        append(volume)
        append(assignments)
        var checksum = Self.checksum(data[...])
        withUnsafeBytes(of: &checksum) { data.append(contentsOf: $0) }
        return data
    }

    /// FNV-1a, 64 bits, of `bytes`.
    static func checksum(_ bytes: Data.SubSequence) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in raw {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            return hash
        }
    }

    init(iteration: Int, generator: [UInt64], order: [Int], noiseVariance: [Double], volume: [Float],
         assignments: [Double]) {
        self.iteration = iteration
        self.generator = generator
        self.order = order
        self.noiseVariance = noiseVariance
        self.volume = volume
        self.assignments = assignments
    }

    /// Decodes `encoded`; throws on anything truncated or foreign.
    init(decoding data: Data, source: String) throws {
        guard data.starts(with: Self.magic) else { throw DuetError("\(source) is not a Duet checkpoint") }
        guard data.count >= Self.magic.count + 8 else { throw DuetError("\(source) is truncated") }
        let stored = data.suffix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard Self.checksum(data.dropLast(8)) == stored else {
            throw DuetError("\(source) is damaged (checksum mismatch): resume from an intact checkpoint or start again")
        }
        let bytes = [UInt8](data.dropLast(8))
        var offset = Self.magic.count
        func read<T: BitwiseCopyable>(_: T.Type) throws -> [T] {
            guard offset + 8 <= bytes.count else { throw DuetError("\(source) is truncated") }
            let count = bytes[offset..<(offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
            offset += 8
            let length = Int(count) * MemoryLayout<T>.stride
            guard count >= 0, offset + length <= bytes.count else { throw DuetError("\(source) is truncated") }
            let values = bytes[offset..<(offset + length)].withUnsafeBytes { raw in
                (0..<Int(count)).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self) }
            }
            offset += length
            return values
        }
        guard let t = try read(Int64.self).first else { throw DuetError("\(source) is truncated") }
        iteration = Int(t)
        generator = try read(UInt64.self)
        order = try read(Int64.self).map(Int.init)
        noiseVariance = try read(Double.self)
        volume = try read(Float.self)
        assignments = try read(Double.self)
        guard generator.count == 4 else { throw DuetError("\(source) is damaged") }
    }
}

extension AbinitEngine {
    /// The state of this half-set, complete on rank 0 of the communicator, nil on the others (collective).
    func gatherState() throws -> AbinitState? {
        guard let all = try gatherAssignments() else { return nil }
        return AbinitState(iteration: iteration, generator: generator.state, order: order,
                           noiseVariance: noise.variance.values, volume: volumeStorage(),
                           assignments: all.flatMap(\.record))
    }

    /// Continues from `state` (every rank passes the same state and takes its own shard's assignments).
    func restore(_ state: AbinitState) throws {
        // Checkpoints written before the residual hotspot hold records one double shorter.
        let n = state.assignments.count / max(1, shard.particleCount)
        guard state.order.count == shard.particleCount, state.assignments.count == n * shard.particleCount,
              n == ParticleAssignment.recordLength || n == ParticleAssignment.recordLength - 1,
              state.noiseVariance.count == noise.variance.values.count else {
            throw DuetError("checkpoint does not match the particles (\(state.order.count) vs \(shard.particleCount))")
        }
        guard state.noiseVariance.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw DuetError("checkpoint holds a noise variance that is not a positive number")
        }
        try setVolumeStorage(state.volume)
        iteration = state.iteration
        generator.state = state.generator
        order = state.order
        noise = noise.restoring(state.noiseVariance)
        assignments = shard.indices.map { ParticleAssignment(record: state.assignments[($0 * n)..<(($0 + 1) * n)]) }
        data.prioritise(slotsInOrderOfUse())
    }
}
