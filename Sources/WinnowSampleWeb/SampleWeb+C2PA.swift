/// The sample web's C2PA manifests: a manifest store whose one manifest holds a `cawg.training-mining` assertion,
/// laid out as c2pa-rs lays out its stores (JUMBF superboxes, the assertion in CBOR) and carried in a JPEG APP11
/// segment. It is not signed (it has no claim or signature box): the demo needs no keys, and Winnow reads the
/// assertion as a stated preference without validating signatures. Real signed stores are the test fixtures made by
/// scripts/gen_c2pa_fixtures.py.
extension SampleWeb {
    /// `jpeg` with a C2PA manifest store in an APP11 segment right after SOI, whose training-mining assertion gives
    /// every entry the use `use` (`allowed`, `notAllowed`, `constrained`).
    static func withC2PATrainingMining(_ jpeg: [UInt8], use: String, manifestID: String) -> [UInt8] {
        let entries = ["cawg.ai_generative_training", "cawg.ai_inference", "cawg.ai_training", "cawg.data_mining"]
        var cbor = cborHeader(5, entries: 1) + cborText("entries") + cborHeader(5, entries: entries.count)
        for e in entries { cbor += cborText(e) + cborHeader(5, entries: 1) + cborText("use") + cborText(use) }
        let assertion = superbox("cbor", label: "cawg.training-mining", [box("cbor", cbor)])
        let assertions = superbox("c2as", label: "c2pa.assertions", [assertion])
        let manifest = superbox("c2ma", label: "urn:c2pa:\(manifestID)", [assertions])
        let store = superbox("c2pa", label: "c2pa", [manifest])
        // APP11: "JP", box instance 1, packet sequence 1, then the box.
        let segment: [UInt8] = Array("JP".utf8) + [0, 1, 0, 0, 0, 1] + store
        let length = segment.count + 2
        precondition(length <= 0xffff, "the sample web's manifest fits one APP11 segment")
        return [0xff, 0xd8, 0xff, 0xeb, UInt8(length >> 8), UInt8(length & 0xff)] + segment + jpeg[2...]
    }

    private static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count + 8)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + Array(type.utf8)
            + payload
    }

    /// A superbox whose description has C2PA's type UUID for `code` (4CC + 0011-0010-8000-00AA00389B71).
    private static func superbox(_ code: String, label: String, _ children: [[UInt8]]) -> [UInt8] {
        let uuid = Array(code.utf8) + [0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]
        let description = box("jumd", uuid + [0x03] + Array(label.utf8) + [0])
        return box("jumb", description + children.flatMap { $0 })
    }

    private static func cborHeader(_ major: UInt8, entries n: Int) -> [UInt8] {
        precondition(n < 24)
        return [major << 5 | UInt8(n)]
    }

    private static func cborText(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        precondition(b.count < 256)
        return b.count < 24 ? [0x60 | UInt8(b.count)] + b : [0x78, UInt8(b.count)] + b
    }
}
