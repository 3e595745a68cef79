import DuetCore
import Foundation

extension Communicator {
    /// Runs `body` on every rank, then agrees on the outcome (collective): when `body` threw on any rank, every
    /// rank throws the error of the lowest rank that failed, marked `raisedOnEveryRank`, so the job can stop with
    /// one message and a clean exit instead of an abort. `body` does local work, or collective calls that every
    /// rank makes whatever happens before them.
    /// Used around the set-up of a job (checking options and input, reading each rank's share of the images,
    /// creating the output directory), where a bad input may show up on one rank only.
    public func agreeing<T>(_ body: () throws -> T) throws -> T {
        let outcome: Result<T, Error> = Result { try body() }
        var failure: String?
        if case .failure(let error) = outcome {
            failure = (error as? DuetError)?.message ?? "\(error)"
        }
        // size − rank of the lowest failing rank, 0 when no rank failed.
        let lowestFailing = try allreduceMax(failure == nil ? 0 : Double(size - rank))
        guard lowestFailing > 0 else { return try outcome.get() }
        let message = try broadcast(failure ?? "", root: size - Int(lowestFailing))
        throw DuetError(message, raisedOnEveryRank: true)
    }
}
