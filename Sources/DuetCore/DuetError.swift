/// The one error type Duet reports to a person: `message` is a single line that says what is wrong and
/// where (file, line, column, index), with no stack trace. The command line prints it to stderr and exits non-zero.
public struct DuetError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
