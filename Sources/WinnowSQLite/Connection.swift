internal import CSQLite

/// An SQLite failure: result code, message, and the SQL or path it concerns.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// SQLite result code.
    public var code: Int32
    /// sqlite3_errmsg text.
    public var message: String
    /// The SQL statement or database path.
    public var context: String

    public var description: String { "SQLite error \(code): \(message) (\(context))" }
}

/// A value to bind or read.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// Converts Swift values to SQLite values for binding.
public protocol SQLiteBindable {
    /// The value to bind.
    var sqliteValue: SQLiteValue { get }
}

extension Int: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Int64: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(self) } }
extension Double: SQLiteBindable { public var sqliteValue: SQLiteValue { .real(self) } }
extension String: SQLiteBindable { public var sqliteValue: SQLiteValue { .text(self) } }
extension SQLiteValue: SQLiteBindable { public var sqliteValue: SQLiteValue { self } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

/// An open SQLite database. Not thread-safe: use it from one thread at a time.
public final class Connection {
    private var db: OpaquePointer?
    /// The database file path.
    public let path: String

    /// Opens (or creates, unless `readOnly`) the database at `path`. The corresponding C function is `sqlite3_open_v2`.
    public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        if rc != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            db = nil
            throw SQLiteError(code: rc, message: message, context: path)
        }
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(db) }

    /// Closes the database now (also done on deinit).
    public func close() {
        sqlite3_close_v2(db)
        db = nil
    }

    func check(_ rc: Int32, _ context: String) throws(SQLiteError) {
        if rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW {
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)), context: context)
        }
    }

    /// Runs one or more statements without results. The corresponding C function is `sqlite3_exec`.
    public func execute(_ sql: String) throws(SQLiteError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: message, context: sql)
        }
    }

    /// Prepares a statement. The corresponding C function is `sqlite3_prepare_v2`.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var stmt: OpaquePointer?
        try check(sqlite3_prepare_v2(db, sql, -1, &stmt, nil), sql)
        return Statement(connection: self, handle: stmt, sql: sql)
    }

    /// Runs `sql` with `arguments` and returns every row.
    public func query(_ sql: String, _ arguments: [SQLiteBindable] = []) throws(SQLiteError) -> [Row] {
        let stmt = try prepare(sql)
        try stmt.bind(arguments)
        var rows: [Row] = []
        while let row = try stmt.step() { rows.append(row) }
        return rows
    }

    /// Runs `sql` with `arguments`, ignoring rows.
    public func run(_ sql: String, _ arguments: [SQLiteBindable] = []) throws(SQLiteError) {
        let stmt = try prepare(sql)
        try stmt.bind(arguments)
        while try stmt.step() != nil {}
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(db)) }

    /// `PRAGMA user_version`: the schema version.
    public var userVersion: Int {
        get throws(SQLiteError) {
            let rows = try query("PRAGMA user_version")
            return Int(rows.first?.int(0) ?? 0)
        }
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var handle: OpaquePointer? { db }
}

/// A prepared statement. Not thread-safe.
public final class Statement {
    private let connection: Connection
    private var handle: OpaquePointer?
    /// The SQL text.
    public let sql: String

    init(connection: Connection, handle: OpaquePointer?, sql: String) {
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `arguments` to `?1...?n`.
    public func bind(_ arguments: [SQLiteBindable]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, argument) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch argument.sqliteValue {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v): rc = winnow_sqlite3_bind_text_transient(handle, index, v, -1)
            case .blob(let v):
                rc = v.withUnsafeBytes {
                    winnow_sqlite3_bind_blob_transient(handle, index, $0.baseAddress, Int32($0.count))
                }
            }
            try connection.check(rc, sql)
        }
    }

    /// Steps once: a row, or nil when done. The corresponding C function is `sqlite3_step`.
    public func step() throws(SQLiteError) -> Row? {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW {
            var values: [SQLiteValue] = []
            var names: [String] = []
            let n = sqlite3_column_count(handle)
            for i in 0..<n {
                names.append(String(cString: sqlite3_column_name(handle, i)))
                switch sqlite3_column_type(handle, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
                case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(handle, i))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(handle, i))
                    if let p = sqlite3_column_blob(handle, i), count > 0 {
                        values.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: count))))
                    } else {
                        values.append(.blob([]))
                    }
                default: values.append(.null)
                }
            }
            return Row(names: names, values: values)
        }
        try connection.check(rc, sql)
        return nil
    }

    /// Binds `arguments` and calls `body` with the first column of every row as an integer, without building rows:
    /// the fast path for loading millions of keys. The corresponding C function is `sqlite3_column_int64`.
    public func forEachInt64(_ arguments: [SQLiteBindable] = [], _ body: (Int64) -> Void) throws(SQLiteError) {
        try forEachStep(arguments) { body(sqlite3_column_int64(handle, 0)) }
    }

    /// Like `forEachInt64`, with the first two columns.
    public func forEachInt64Pair(_ arguments: [SQLiteBindable] = [], _ body: (Int64, Int64) -> Void)
        throws(SQLiteError)
    {
        try forEachStep(arguments) { body(sqlite3_column_int64(handle, 0), sqlite3_column_int64(handle, 1)) }
    }

    /// A row as `forEachRow` hands it: its columns read by index, typed, without building a `Row` (the fast path for
    /// scanning millions of rows). Valid only inside the call; text is handed as SQLite's own bytes.
    public struct Cursor {
        let handle: OpaquePointer?

        /// Whether column `i` is NULL.
        public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }
        /// Column `i` as an integer; nil for NULL. The corresponding C function is `sqlite3_column_int64`.
        public func int(_ i: Int32) -> Int64? { isNull(i) ? nil : sqlite3_column_int64(handle, i) }
        /// Column `i` as a real; nil for NULL.
        public func double(_ i: Int32) -> Double? { isNull(i) ? nil : sqlite3_column_double(handle, i) }
        /// Column `i`'s text as UTF-8 bytes (nil for NULL), valid until the next read of this row or the next step.
        /// The corresponding C function is `sqlite3_column_text`.
        public func text(_ i: Int32) -> UnsafeBufferPointer<UInt8>? {
            guard let p = sqlite3_column_text(handle, i) else { return nil }
            return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(handle, i)))
        }
    }

    /// Binds `arguments` and calls `body` with every row as a `Cursor`.
    public func forEachRow(_ arguments: [SQLiteBindable] = [], _ body: (Cursor) -> Void) throws(SQLiteError) {
        try forEachStep(arguments) { body(Cursor(handle: handle)) }
    }

    private func forEachStep(_ arguments: [SQLiteBindable], _ row: () -> Void) throws(SQLiteError) {
        try bind(arguments)
        while true {
            let rc = sqlite3_step(handle)
            guard rc == SQLITE_ROW else {
                try connection.check(rc, sql)
                return
            }
            row()
        }
    }

    /// Binds and runs to completion (for inserts and updates).
    public func run(_ arguments: [SQLiteBindable]) throws(SQLiteError) {
        try bind(arguments)
        while try step() != nil {}
    }
}

/// One result row.
public struct Row: Sendable {
    /// Column names.
    public let names: [String]
    /// Column values.
    public let values: [SQLiteValue]

    /// The value of a named column (`.null` if absent).
    public subscript(_ name: String) -> SQLiteValue {
        guard let i = names.firstIndex(of: name) else { return .null }
        return values[i]
    }

    /// Integer at column `i` (nil if null or not numeric).
    public func int(_ i: Int) -> Int64? {
        switch values[i] {
        case .integer(let v): return v
        case .real(let v): return Int64(v)
        default: return nil
        }
    }

    /// Integer of a named column.
    public func int(_ name: String) -> Int64? {
        guard let i = names.firstIndex(of: name) else { return nil }
        return int(i)
    }

    /// Number of a named column (nil if null or not numeric).
    public func double(_ name: String) -> Double? {
        switch self[name] {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        default: return nil
        }
    }

    /// Text of a named column (integers rendered as text; nil if null).
    public func string(_ name: String) -> String? {
        switch self[name] {
        case .text(let s): return s
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        default: return nil
        }
    }
}
