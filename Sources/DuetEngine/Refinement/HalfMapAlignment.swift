import DuetComm
import DuetCore
import DuetKernels
import Foundation

/// The periodic alignment of half B's map onto half A's (docs/design.md §3), collective over the world: half A's rank
/// 0 (world rank 0) and half B's rank 0 broadcast their maps, every rank scores its share of the alignment's
/// candidates (`MapAlignment` over the world's `RankShare`, the same result as one rank), world rank 0 measures the
/// aligned FSC and broadcasts the outcome, and every rank of half B applies the transform to its volume and its
/// poses. Half A's state is never changed and never depends on B's data.
struct HalfMapAlignment {
    let world: Communicator
    let ranks: HalfSetRanks
    let box: Int
    let pixelSize_A: Double
    let threads: Int?

    /// What one alignment found: the transform applied to B and the FSC between A and the aligned B at that time.
    struct Outcome {
        var transform: MapTransform
        var score: Double
        /// Resolution where the FSC between A's and aligned B's SGD maps falls below 0.143, Å.
        var halfMapResolution_A: Double
    }

    /// Aligns using frequencies up to `resolution_A`; returns the outcome on every rank.
    func align(_ halves: ServedHalves, resolution_A: Double) throws -> Outcome {
        let voxels = box * box * box
        var a = world.isRoot ? halves.a?.engine.map() ?? [] : [Float](repeating: 0, count: voxels)
        var b = world.rank == ranks.halfBRoot ? halves.b?.engine.map() ?? [] : [Float](repeating: 0, count: voxels)
        try world.broadcast(&a, root: 0)
        try world.broadcast(&b, root: ranks.halfBRoot)
        let result = try MapAlignment.align(reference: a, moving: b, box: box, pixelSize_A: pixelSize_A,
                                            resolution_A: resolution_A, threads: threads,
                                            share: RankShare(rank: world.rank, size: world.size)) {
            try world.allgather($0, counts: $1)
        }
        var message = [Double](repeating: 0, count: 15)
        if world.isRoot {
            let aligned = result.transform.apply(to: b, box: box, threads: threads)
            let fsc = FourierShellCorrelation.curve(a, aligned, box: box, pixelSize_A: pixelSize_A)
            message = Self.encode(result.transform) + [result.score, fsc.resolution_A(threshold: 0.143)]
        }
        try world.broadcast(&message, root: 0)
        let transform = Self.decode(message)
        if let engineB = halves.b?.engine { engineB.apply(transform) }
        return Outcome(transform: transform, score: message[13], halfMapResolution_A: message[14])
    }

    private static func encode(_ t: MapTransform) -> [Double] {
        let r = t.rotation
        return [r.row0.x, r.row0.y, r.row0.z, r.row1.x, r.row1.y, r.row1.z, r.row2.x, r.row2.y, r.row2.z,
                t.translation_px.x, t.translation_px.y, t.translation_px.z, t.mirrored ? 1 : 0]
    }

    private static func decode(_ v: [Double]) -> MapTransform {
        MapTransform(rotation: Rotation(row0: SIMD3(v[0], v[1], v[2]), row1: SIMD3(v[3], v[4], v[5]),
                                        row2: SIMD3(v[6], v[7], v[8])),
                     translation_px: SIMD3(v[9], v[10], v[11]), mirrored: v[12] != 0)
    }
}
