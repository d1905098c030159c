import Foundation
import Testing
import WinnowCore
import WinnowEmbed
import WinnowTestSupport

/// A safetensors file written by hand: the header as given, then `data`.
func safetensors(_ header: String, _ data: [UInt8]) throws -> String {
    let path = TestSupport.temporaryDirectory() + "/t.safetensors"
    let json = Array(header.utf8)
    var bytes: [UInt8] = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
    bytes += json + data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct SafeTensorsTests {
    /// F32, F16 and BF16 tensors read as the same float32 values.
    @Test func readsF32F16AndBF16() throws {
        let values: [Float] = [1.5, -2.25, 0.0078125, 1024]
        var data: [UInt8] = []
        for v in values { data += withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        for v in values { data += withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { Array($0) } }
        for v in values { data += withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { Array($0) } }
        let header = """
            {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},\
            "b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]},"c":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}
            """
        let file = try SafeTensors(path: try safetensors(header, data))
        #expect(file.metadata["format"] == "pt")
        #expect(try file.floats("a", shape: [2, 2]) == values)
        #expect(try file.floats("b") == values)
        #expect(try file.floats("c") == values)
        let wrongShape = #expect(throws: WinnowError.self) { try file.floats("a", shape: [4]) }
        #expect(wrongShape?.message.contains("tensor a has shape [2, 2]") == true)
        let missing = #expect(throws: WinnowError.self) { try file.floats("z") }
        #expect(missing?.message.contains("no tensor named z") == true)
    }

    /// Reading a tensor hands its pages back to the kernel; reading it again (or its neighbours, which share the
    /// edge pages) still gives the file's values.
    @Test func tensorsReadAgainAfterTheirPagesAreReleased() throws {
        let big = (0..<50_000).map { Float($0) * 0.5 - 7 }
        let small = (0..<3).map { Float($0) + 0.25 }
        let path = TestSupport.temporaryDirectory() + "/pages.safetensors"
        try Data(SafeTensors.encode([("a", [3], small), ("b", [50_000], big), ("c", [3], small)]))
            .write(to: URL(fileURLWithPath: path))
        let file = try SafeTensors(path: path)
        for _ in 0..<2 {
            #expect(try file.floats("b") == big)
            #expect(try file.floats("a") == small && file.floats("c") == small)
        }
    }

    /// A directory is named as such, not as a failed mapping.
    @Test func aDirectoryIsNotAFile() throws {
        let dir = TestSupport.temporaryDirectory()
        let error = #expect(throws: WinnowError.self) { try SafeTensors(path: dir) }
        #expect(error?.message == "\(dir): not a regular file")
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#, "needs 16 bytes"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}"#, "malformed header entry"),
        (#"{"a": 3}"#, "malformed header entry"),
        (#"not json"#, "header is not JSON"),
        (#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, ""),
    ])
    func malformedFilesAreNamedErrors(header: String, message: String) throws {
        let path = try safetensors(header, [UInt8](repeating: 0, count: 8))
        if message.isEmpty {
            // A dtype that is not a float is listed, and refused when read.
            let file = try SafeTensors(path: path)
            let e = #expect(throws: WinnowError.self) { try file.floats("a") }
            #expect(e?.message.contains("is I64") == true)
            return
        }
        let e = #expect(throws: WinnowError.self) { try SafeTensors(path: path) }
        #expect(e?.message.contains(message) == true, "\(e?.message ?? "")")
        #expect(e?.message.contains(path) == true)
    }
}
