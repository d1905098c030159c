import Foundation

/// NumPy's `.npy` format (version 1.0) for float arrays: the layout clip-retrieval's embedding files use.
public enum NPY {
    /// Element types Winnow writes and reads.
    public enum DType: String, Sendable {
        /// `<f4`.
        case float32 = "<f4"
        /// `<f2`.
        case float16 = "<f2"

        /// Bytes an element.
        public var size: Int { self == .float32 ? 4 : 2 }
    }

    /// A float array and its shape.
    public struct Array: Sendable {
        /// Dimensions, outermost first.
        public var shape: [Int]
        /// The values, C order, widened to float32.
        public var values: [Float]
        /// The element type in the file.
        public var dtype: DType
    }

    /// The bytes of a `.npy` file holding `values` with `shape` as `dtype` (C order, little-endian).
    public static func encode(_ values: [Float], shape: [Int], dtype: DType) -> [UInt8] {
        precondition(shape.reduce(1, *) == values.count, "shape does not match the values")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline, padded with spaces to a multiple of 64.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Swift.Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        out += header.utf8
        out.reserveCapacity(out.count + values.count * dtype.size)
        switch dtype {
        case .float32:
            for v in values {
                let bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { out += $0 }
            }
        case .float16:
            for v in values {
                let bits = Float16(v).bitPattern.littleEndian
                withUnsafeBytes(of: bits) { out += $0 }
            }
        }
        return out
    }

    /// The element type, shape and data offset of a `.npy` file of little-endian float32 or float16 in C order,
    /// checked against the file's size; `name` is for messages.
    public static func header(_ bytes: [UInt8], name: String) throws(WinnowError) -> (
        dtype: DType, shape: [Int], dataOffset: Int
    ) {
        guard bytes.count >= 10, bytes[0] == 0x93, Swift.Array(bytes[1..<6]) == Swift.Array("NUMPY".utf8) else {
            throw WinnowError(.format, "\(name): not a .npy file")
        }
        let major = bytes[6]
        let headerStart = major == 1 ? 10 : 12
        guard major >= 1 && major <= 3, bytes.count >= headerStart else {
            throw WinnowError(.format, "\(name): .npy version \(major) is not supported")
        }
        let length =
            major == 1
            ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard headerStart + length <= bytes.count else { throw WinnowError(.format, "\(name): .npy header is cut off") }
        let header = String(decoding: bytes[headerStart..<(headerStart + length)], as: UTF8.self)
        func value(_ key: String) -> Substring? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return header[r.upperBound...].drop(while: { $0 == " " })
        }
        guard let descr = value("descr"), let quoteEnd = descr.dropFirst().firstIndex(of: "'"),
            let dtype = DType(rawValue: String(descr[descr.index(after: descr.startIndex)..<quoteEnd]))
        else { throw WinnowError(.format, "\(name): .npy dtype is not <f4 or <f2 (\(header))") }
        if let order = value("fortran_order"), order.hasPrefix("True") {
            throw WinnowError(.format, "\(name): Fortran-order .npy files are not supported")
        }
        guard let shapeText = value("shape"), shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else {
            throw WinnowError(.format, "\(name): .npy header has no shape (\(header))")
        }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else { throw WinnowError(.format, "\(name): .npy shape \(shapeText)") }
            shape.append(n)
        }
        let count = shape.reduce(1, *)
        let start = headerStart + length
        guard bytes.count - start == count * dtype.size else {
            throw WinnowError(
                .format,
                "\(name): .npy shape \(shape) needs \(count * dtype.size) bytes, file has \(bytes.count - start)")
        }
        return (dtype, shape, start)
    }

    /// Parses a `.npy` file of little-endian float32 or float16 in C order; `name` is for messages.
    public static func decode(_ bytes: [UInt8], name: String) throws(WinnowError) -> Array {
        let (dtype, shape, start) = try header(bytes, name: name)
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                switch dtype {
                case .float32:
                    values[i] = Float(
                        bitPattern: UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                case .float16:
                    values[i] = Float(
                        Float16(
                            bitPattern: UInt16(
                                littleEndian: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self))))
                }
            }
        }
        return Array(shape: shape, values: values, dtype: dtype)
    }
}
