import DuetComm
import DuetCore
import DuetFormats
import Foundation

/// Checkpoints of `duet refine` in `OUT/checkpoint/`: one state file per half-set written by that half's rank 0
/// (`half_A.NNNNNN.sgd`, `AbinitState.encoded`) and then `checkpoint.json` (the configuration and the iteration),
/// written last, by world rank 0, each atomically; the state files of older iterations are then removed. A
/// checkpoint is therefore complete exactly when `checkpoint.json` names it.
struct Checkpoint: Codable {
    var iteration: Int
    var configuration: RefineConfiguration

    static func directory(_ output: String) -> String { output + "/checkpoint" }

    static func statePath(_ output: String, half: HalfSet, iteration: Int) -> String {
        directory(output) + "/half_\(half.letter).\(String(format: "%06d", iteration)).sgd"
    }

    /// Writes the states of the halves (collective over the world).
    static func write(iteration: Int, configuration: RefineConfiguration, states: [HalfSet: AbinitState],
                      world: Communicator) throws {
        let output = configuration.outputDirectory
        if world.isRoot { try FileManager.default.createDirectory(atPath: directory(output), withIntermediateDirectories: true) }
        try world.barrier()
        for (half, state) in states {
            try AtomicFile.write(state.encoded, to: statePath(output, half: half, iteration: iteration))
        }
        try world.barrier()
        if world.isRoot {
            let manifest = try JSONEncoder.sorted.encode(Checkpoint(iteration: iteration, configuration: configuration))
            try AtomicFile.write(manifest, to: directory(output) + "/checkpoint.json")
            let keep = Set(HalfSet.allCases.map { (statePath(output, half: $0, iteration: iteration) as NSString).lastPathComponent })
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory(output))) ?? []
            where name.hasSuffix(".sgd") && !keep.contains(name) {
                try? FileManager.default.removeItem(atPath: directory(output) + "/" + name)
            }
        }
        // No rank returns before the checkpoint is complete: a launcher that ends the job when the first rank
        // exits (srun --kill-on-bad-exit, after a SIGTERM stop) must not cut rank 0 short.
        try world.barrier()
    }

    /// The checkpoint in `output`, or a one-line error. Its state files are those beside it, whatever directory
    /// the run was started in (a copied or moved run resumes from its own files).
    static func read(output: String) throws -> Checkpoint {
        let path = directory(output) + "/checkpoint.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DuetError("\(output): no checkpoint to resume from (\(path) missing)")
        }
        do {
            var checkpoint = try JSONDecoder().decode(Checkpoint.self, from: data)
            checkpoint.configuration.outputDirectory = output
            return checkpoint
        } catch {
            throw DuetError("\(path): unreadable checkpoint")
        }
    }

    /// The state of `half` at this checkpoint.
    func state(of half: HalfSet) throws -> AbinitState {
        let path = Self.statePath(configuration.outputDirectory, half: half, iteration: iteration)
        guard let data = FileManager.default.contents(atPath: path) else { throw DuetError("checkpoint file \(path) missing") }
        let state = try AbinitState(decoding: data, source: path)
        guard state.iteration == iteration else { throw DuetError("\(path) is from iteration \(state.iteration), not \(iteration)") }
        return state
    }
}

extension JSONEncoder {
    /// Pretty-printed with sorted keys, so that files are stable and readable.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}

/// A run stopped on request (SIGTERM, SIGINT or SIGHUP) after writing a checkpoint: every rank throws it at the
/// same iteration, so the processes end together with status `128 + signal` (143 for SIGTERM), as a job killed by
/// the signal would, without aborting MPI.
public struct StoppedBySignal: Error, Sendable {
    public let message: String
    public let signal: Int32
    public var exitStatus: Int32 { 128 + signal }
}

/// SIGTERM (what SLURM sends before it kills a job), SIGINT (Ctrl-C) and SIGHUP (a closed terminal) only set a
/// flag; the refinement checks it after every iteration, writes a checkpoint and stops.
enum TerminationSignal {
    static let handled: [(signal: Int32, name: String)] = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")]
    /// The last handled signal this process received, 0 for none.
    nonisolated(unsafe) private static var received: sig_atomic_t = 0

    static func install() {
        for (number, _) in handled { signal(number) { TerminationSignal.received = $0 } }
    }

    /// The first of `handled` that any rank of `world` has received, nil when none (collective).
    static func requested(world: Communicator) throws -> (signal: Int32, name: String)? {
        var flags = handled.map { received == $0.signal ? 1.0 : 0.0 }
        try world.allreduceSum(&flags)
        return zip(flags, handled).first { $0.0 > 0 }?.1
    }
}
