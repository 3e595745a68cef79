import ArgumentParser
import DuetComm
import DuetEngine

/// Hidden: checks MPI communicators, allreduce and collective HDF5 output under `mpirun`.
struct MPISelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi-selftest",
        abstract: "Check the MPI half-set split, allreduce and collective HDF5 writing.",
        shouldDisplay: false)

    @Option(help: "HDF5 file to write.")
    var output: String = "duet-mpi-selftest.h5"

    @Option(help: "Rows written by rank 0; rank r writes this many plus r.")
    var rowsPerRank: Int = 10

    func run() throws {
        var configuration = MPISelfTestJob.Configuration(outputPath: output)
        configuration.rowsPerRank = rowsPerRank
        if let summary = try MPISelfTestJob.run(configuration, world: MPICommunicator.world()) { print(summary) }
    }
}
