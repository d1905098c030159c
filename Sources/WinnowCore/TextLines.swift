/// Line-oriented text from the web or from users, split as RFC 9309 and most tools read it: a line ends at LF, CR
/// or CRLF, in any mix. One place for it, so that no reader treats a CRLF or CR-only file as one long line.
public enum TextLines {
    /// Calls `body` with each line of `bytes` (without its end) and its 1-based number. A final line without an
    /// end is a line; a file ending in a line end has no empty line after it.
    public static func forEach(_ bytes: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>, Int) throws -> Void) rethrows {
        var i = bytes.startIndex
        let end = bytes.endIndex
        var number = 0
        while i < end {
            var j = i
            while j < end && bytes[j] != 0x0a && bytes[j] != 0x0d { j += 1 }
            number += 1
            try body(bytes[i..<j], number)
            if j < end && bytes[j] == 0x0d && j + 1 < end && bytes[j + 1] == 0x0a { j += 1 }
            i = j + 1
        }
    }

    /// `bytes` without a leading UTF-8 byte order mark, or the start of one (what a cut or mangled file keeps).
    public static func droppingByteOrderMark(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var i = bytes.startIndex
        for b: UInt8 in [0xEF, 0xBB, 0xBF] {
            guard i < bytes.endIndex, bytes[i] == b else { break }
            i += 1
        }
        return bytes[i...]
    }
}
