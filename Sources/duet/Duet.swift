import ArgumentParser
import DuetComm
import DuetCore
import DuetEngine
import Foundation

/// The `duet` command. Each subcommand builds a configuration and calls the engine; a `DuetError` is printed as
/// one line on stderr with a non-zero exit (and, under `mpirun` with several ranks, aborts the whole job so no
/// rank waits forever in a collective call).
@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "Gold-standard ab-initio cryo-EM refinement on MPI.",
        subcommands: [InfoCommand.self, ConvertCommand.self, SimulateCommand.self, ReconstructCommand.self, AbinitCommand.self, RefineCommand.self, AlignCommand.self, FSCCommand.self, MPISelfTestCommand.self])

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as DuetError {
            FileHandle.standardError.write(Data("duet: error: \(error.message)\n".utf8))
            if let world = try? MPICommunicator.world(), world.size > 1 { MPIRuntime.abort(code: 1) }
            Foundation.exit(1)
        } catch let stop as StoppedBySignal {
            if (try? MPICommunicator.world())?.isRoot ?? true {
                FileHandle.standardError.write(Data("duet: \(stop.message)\n".utf8))
            }
            Foundation.exit(stop.exitStatus)
        } catch {
            exit(withError: error)
        }
    }
}
