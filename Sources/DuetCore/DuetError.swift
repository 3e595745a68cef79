/// The one error type Duet reports to a person: `message` is a single line that says what is wrong and
/// where (file, line, column, index), with no stack trace. The command line prints it to stderr and exits non-zero.
///
/// Under MPI, `raisedOnEveryRank` says every rank of the job threw this same error at the same point (see
/// `Communicator.agreeing`): rank 0 alone prints it and every rank exits cleanly. Any other error may be one
/// rank's while the others wait in a collective call, so the job is aborted.
public struct DuetError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public let raisedOnEveryRank: Bool

    public init(_ message: String, raisedOnEveryRank: Bool = false) {
        self.message = message
        self.raisedOnEveryRank = raisedOnEveryRank
    }

    public var description: String { message }
}
