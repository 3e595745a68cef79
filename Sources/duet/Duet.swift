import ArgumentParser
import DuetComm
import DuetCore
import DuetEngine
import DuetShim
import Foundation

/// The `duet` command. Each subcommand builds a configuration and calls the engine; a `DuetError` is printed as
/// one line on stderr with exit status 1. Under `mpirun`, an error every rank raised (bad options or input, found
/// before any work: `DuetError.raisedOnEveryRank`, or any error before MPI starts) is printed by rank 0 alone and
/// every rank exits cleanly; an error of one rank during the work aborts the whole job, so that no rank waits
/// forever in a collective call.
@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "Gold-standard ab-initio cryo-EM refinement on MPI.",
        subcommands: [InfoCommand.self, ConvertCommand.self, SimulateCommand.self, ReconstructCommand.self, AbinitCommand.self, RefineCommand.self, AlignCommand.self, FSCCommand.self, MPISelfTestCommand.self])

    static func main() {
        // Buffers of hundreds of megabytes are made and dropped every iteration: reused, not faulted in again.
        duet_keep_freed_memory()
        do {
            var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let error as DuetError {
            report(error)
        } catch let stop as StoppedBySignal {
            if (try? MPICommunicator.world())?.isRoot ?? true {
                FileHandle.standardError.write(Data("duet: \(stop.message)\n".utf8))
            }
            Foundation.exit(stop.exitStatus)
        } catch {
            // Any other error during the work is that rank's; argument errors (and --help), found before MPI
            // starts, are the same on every rank: rank 0 prints them.
            if MPIRuntime.isInitialised { report(DuetError("\(error)")) }
            if MPIRuntime.launcherRank == 0 { exit(withError: error) }
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }

    /// `--count -5` as `--count=-5`: the argument parser reads a value that starts with "-" as an option, so a
    /// negative number would be reported as a missing value instead of the option's range.
    private static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var joined: [String] = []
        for argument in arguments {
            if let option = joined.last, option.hasPrefix("--"), option.count > 2, !option.contains("="), argument.hasPrefix("-"),
               Double(argument) != nil {
                joined[joined.count - 1] = option + "=" + argument
            } else {
                joined.append(argument)
            }
        }
        return joined
    }

    private static func report(_ error: DuetError) -> Never {
        let world = MPIRuntime.isInitialised ? try? MPICommunicator.world() : nil
        let rank = world?.rank ?? MPIRuntime.launcherRank
        if error.raisedOnEveryRank || world == nil || world!.size == 1 {
            if rank == 0 { FileHandle.standardError.write(Data("duet: error: \(error.message)\n".utf8)) }
            Foundation.exit(1)
        }
        FileHandle.standardError.write(Data("duet: error: rank \(rank): \(error.message)\n".utf8))
        MPIRuntime.abort(code: 1)
    }
}
