import CFFTWMPI
import CMPI
import DuetCore
import DuetShim
import Foundation

/// The process-wide MPI library state. MPI is initialised once, on first use, with `MPI_THREAD_FUNNELED`
/// (only the thread that initialised MPI calls it; worker threads compute). A process started without `mpirun`
/// becomes an MPI singleton of size 1. Errors are returned, not fatal, so they become `DuetError`s.
public enum MPIRuntime {
    private final class State: @unchecked Sendable {
        let initialised: Bool
        init() {
            var alreadyInitialised: Int32 = 0
            MPI_Initialized(&alreadyInitialised)
            if alreadyInitialised == 0 {
                var provided: Int32 = 0
                MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
                atexit { MPIRuntime.finalize() }
            }
            MPI_Comm_set_errhandler(duet_mpi_comm_world(), duet_mpi_errors_return())
            fftwf_mpi_init()
            initialised = true
        }
    }

    private static let state = State()

    /// Initialises MPI if it is not yet (idempotent, call from the main thread).
    public static func initialise() {
        _ = state.initialised
    }

    /// Whether MPI has been initialised in this process (and not yet finalised).
    public static var isInitialised: Bool {
        var initialised: Int32 = 0, finalised: Int32 = 0
        MPI_Initialized(&initialised)
        MPI_Finalized(&finalised)
        return initialised != 0 && finalised == 0
    }

    /// This process's rank in the job as the launcher (`mpirun`, `srun`) announces it in the environment, read
    /// without initialising MPI; 0 for a process started alone.
    public static var launcherRank: Int {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"] {
            if let rank = environment[name].flatMap(Int.init) { return rank }
        }
        return 0
    }

    /// Finalises MPI if it was initialised and not yet finalised (idempotent; also runs at exit).
    public static func finalize() {
        var initialised: Int32 = 0, finalised: Int32 = 0
        MPI_Initialized(&initialised)
        MPI_Finalized(&finalised)
        if initialised != 0 && finalised == 0 { MPI_Finalize() }
    }

    /// Aborts every rank of the job with `code` (used when one rank hits an unrecoverable error while others
    /// may be waiting in a collective call).
    public static func abort(code: Int32) -> Never {
        MPI_Abort(duet_mpi_comm_world(), code)
        exit(code)
    }

    /// Throws a `DuetError` naming `operation` when an MPI call did not return `MPI_SUCCESS`.
    static func check(_ code: Int32, _ operation: String) throws {
        guard code != MPI_SUCCESS else { return }
        var buffer = [CChar](repeating: 0, count: Int(duet_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DuetError("\(operation) failed: \(text) (MPI error \(code))")
    }
}
