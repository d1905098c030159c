/// Why a Parquet file cannot be read (or written): a code and a message that names the file, and the column and row
/// group when it is about one.
public struct ParquetError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: String, Sendable {
        /// Not a Parquet file at all (no `PAR1` magic).
        case notParquet = "not_parquet"
        /// The bytes contradict themselves: a length past the end, a bad page header, a failed decompression.
        case corrupt
        /// A valid feature Winnow does not read (a codec, an encoding, a nested column).
        case unsupported
        /// A column asked for is not in the file.
        case missingColumn = "missing_column"
        /// The file system said no.
        case io
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, in one line.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The same error with a prefix (the file, the column) before its message.
    func prefixed(_ context: String) -> ParquetError { ParquetError(code, "\(context): \(message)") }

    public var description: String { message }
}
