/// An error that stops a whole command: a typed code, a message naming the input, and the input.
public struct WinnowError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    public enum Code: String, Sendable {
        /// `notFound`: a key, request or other name that does not exist (a failure, exit 1; `usage` is exit 64).
        /// `interrupted`: a run stopped by SIGINT or SIGTERM after committing what it had (exit 128 + signal).
        /// `incomplete`: the command finished with what it could read, but some inputs could not be read (exit 3).
        case usage, io, format, config, database, network, image, notFound, interrupted, incomplete
    }
    /// The kind.
    public var code: Code
    /// Human message: names the input and says what is wrong.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
