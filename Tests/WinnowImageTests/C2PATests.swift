import Foundation
import Testing
import WinnowCore
import WinnowImage
import WinnowTestSupport

/// Issue 25: C2PA manifest stores read to their training-and-data-mining assertion. The fixtures are signed by
/// c2pa-python (c2pa-rs) in scripts/gen_c2pa_fixtures.py, and c2pa_expected.json is that library's own reading.
@Suite struct C2PATests {
    struct Expected {
        var label: String?
        var entries: [String: String]
    }

    static func expected() throws -> [String: Expected] {
        let data = try Data(
            contentsOf: URL(
                fileURLWithPath: TestSupport.packageRoot + "/Tests/WinnowImageTests/Fixtures/c2pa_expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fixtures = try #require(root["fixtures"] as? [String: [String: Any]])
        return fixtures.mapValues {
            Expected(label: $0["training_label"] as? String, entries: $0["entries"] as? [String: String] ?? [:])
        }
    }

    static func format(_ name: String) -> ImageFormat {
        name.hasSuffix(".png") ? .png : name.hasSuffix(".webp") ? .webp : .jpeg
    }

    /// Every fixture reads as the C2PA library reads it: the assertion's label and each entry's use.
    @Test func readsWhatTheC2PALibraryWrote() throws {
        let all = try C2PATests.expected()
        #expect(all.count >= 9)
        for (name, want) in all {
            let m = ImageMetadata.scan(try fixture(name), format: C2PATests.format(name))
            #expect(m.hasC2PA, "\(name)")
            #expect(m.c2paUnreadable == nil, "\(name): \(m.c2paUnreadable ?? "")")
            #expect(m.c2paTraining?.label == want.label, "\(name)")
            let got = Dictionary(uniqueKeysWithValues: m.c2paTraining?.entries.map { ($0.name, $0.use) } ?? [])
            #expect(got == want.entries, "\(name)")
        }
    }

    /// Which purposes each assertion refuses (constrained counts as not allowed).
    @Test func denialsByPurpose() throws {
        let cases: [(String, train: String?, aiUse: String?, search: String?)] = [
            (
                "c2pa_jpeg_training_notallowed.jpg", "cawg.ai_generative_training=notAllowed",
                "cawg.ai_inference=notAllowed", "cawg.data_mining=notAllowed"
            ),
            (
                "c2pa_png_training_notallowed.png", "cawg.ai_generative_training=notAllowed",
                "cawg.ai_inference=notAllowed", "cawg.data_mining=notAllowed"
            ),
            (
                "c2pa_webp_training_notallowed.webp", "cawg.ai_generative_training=notAllowed",
                "cawg.ai_inference=notAllowed", "cawg.data_mining=notAllowed"
            ),
            (
                "c2pa_jpeg_multisegment_notallowed.jpg", "cawg.ai_generative_training=notAllowed",
                "cawg.ai_inference=notAllowed", "cawg.data_mining=notAllowed"
            ),
            ("c2pa_jpeg_training_allowed.jpg", nil, nil, nil),
            ("c2pa_jpeg_training_constrained.jpg", "cawg.ai_training=constrained", nil, nil),
            ("c2pa_jpeg_genai_notallowed.jpg", "cawg.ai_generative_training=notAllowed", nil, nil),
            (
                "c2pa_jpeg_legacy_c2pa_training_mining.jpg", "c2pa.ai_generative_training=notAllowed",
                "c2pa.ai_inference=notAllowed", "c2pa.data_mining=notAllowed"
            ),
            ("c2pa_jpeg_no_training_assertion.jpg", nil, nil, nil),
        ]
        for (name, train, aiUse, search) in cases {
            let m = ImageMetadata.scan(try fixture(name), format: C2PATests.format(name))
            #expect(m.c2paTraining?.denial(purpose: "train-ai") == train, "\(name)")
            #expect(m.c2paTraining?.denial(purpose: "ai-use") == aiUse, "\(name)")
            #expect(m.c2paTraining?.denial(purpose: "search") == search, "\(name)")
        }
    }

    /// The image stage drops what the assertion refuses for the run's purpose, and records what it read.
    @Test func theImageStageDropsAndRecords() throws {
        var st = ImageSettings()
        st.minBytes = 0
        for name in [
            "c2pa_jpeg_training_notallowed.jpg", "c2pa_png_training_notallowed.png",
            "c2pa_webp_training_notallowed.webp",
        ] {
            let s = processed(try fixture(name), st)
            #expect(s.outcome.reason?.code == "c2pa_training_mining", "\(name)")
            #expect(s.outcome.reason?.detail == "C2PA cawg.training-mining cawg.ai_generative_training=notAllowed")
        }
        let allowed = processed(try fixture("c2pa_jpeg_training_allowed.jpg"), st)
        #expect(allowed.isKept && allowed.image?.hasC2PA == true)
        #expect(
            allowed.image?.c2paTraining?.hasPrefix("cawg.training-mining: cawg.ai_generative_training=allowed") == true)
        // ai_generative_training=notAllowed: out of a training set, not out of an ai-use set.
        var aiUse = st
        aiUse.purpose = .aiUse
        #expect(
            processed(try fixture("c2pa_jpeg_genai_notallowed.jpg"), st).outcome.reason?.code == "c2pa_training_mining")
        #expect(processed(try fixture("c2pa_jpeg_genai_notallowed.jpg"), aiUse).isKept)
        // honour_c2pa: false records the assertion and keeps the image.
        var off = st
        off.honourC2PA = false
        let kept = processed(try fixture("c2pa_jpeg_training_notallowed.jpg"), off)
        #expect(kept.isKept && kept.image?.c2paTraining?.contains("cawg.ai_training=notAllowed") == true)
    }

    /// A damaged manifest store is recorded as unreadable (it states nothing), and never crashes the scan.
    @Test func damagedStoresAreUnreadable() throws {
        let good = try fixture("c2pa_jpeg_training_notallowed.jpg")
        // The APP11 segment starts at 20 (after APP0); its JUMBF box at 20 + 4 + 8.
        #expect(good[20] == 0xff && good[21] == 0xeb)
        let box = 32
        // The store's LBox made larger than the segment: the box overruns.
        var overrun = good
        overrun[box + 1] = 0x7f
        let m1 = ImageMetadata.scan(overrun, format: .jpeg)
        #expect(m1.hasC2PA && m1.c2paTraining == nil && m1.c2paUnreadable?.contains("runs past") == true)
        // A CBOR byte of the assertion flipped to a reserved initial byte.
        let label = Array("cawg.training-mining\0".utf8)
        let at = try #require(find(good, label, from: 0))
        let cbor = try #require(find(good, Array("cbor".utf8), from: at + label.count + 24))
        var badCBOR = good
        badCBOR[cbor + 4] = 0x1c
        let m2 = ImageMetadata.scan(badCBOR, format: .jpeg)
        #expect(m2.c2paTraining == nil && m2.c2paUnreadable?.contains("CBOR") == true, "\(m2.c2paUnreadable ?? "")")
        var st = ImageSettings()
        st.minBytes = 0
        let s = processed(badCBOR, st)
        #expect(s.isKept && s.image?.c2paTraining?.hasPrefix("unreadable: ") == true)
        // Truncations of the store (the segment cut short): no crash, and never a made-up assertion.
        let segment = Int(good[22]) << 8 | Int(good[23])
        for cut in stride(from: box + 1, to: 22 + segment, by: 97) {
            var t = Array(good[0..<cut]) + Array(good[(22 + segment)...])
            t[22] = UInt8((cut - 22) >> 8)
            t[23] = UInt8((cut - 22) & 0xff)
            let m = ImageMetadata.scan(t, format: .jpeg)
            #expect(m.c2paTraining == nil, "cut at \(cut)")
            #expect(cut < box + 38 || m.c2paUnreadable != nil, "cut at \(cut)")
        }
    }

    /// APP11 segments are put together by sequence number, whatever their order; a gap leaves the box out.
    @Test func app11SegmentsReassemble() throws {
        let big = try fixture("c2pa_jpeg_multisegment_notallowed.jpg")
        var segments: [[UInt8]] = []
        var i = 2
        while i + 4 <= big.count, big[i] == 0xff, big[i + 1] != 0xda {
            let n = Int(big[i + 2]) << 8 | Int(big[i + 3])
            if big[i + 1] == 0xeb { segments.append(Array(big[(i + 4)..<(i + 2 + n)])) }
            i += 2 + n
        }
        #expect(segments.count == 3)
        var shuffled = JPEGJUMBFAssembler()
        for s in segments.reversed() { s.withUnsafeBufferPointer { shuffled.add($0) } }
        let boxes = shuffled.boxes()
        #expect(boxes.count == 1)
        let store = try #require(boxes.first)
        #expect(Int(store[0]) << 24 | Int(store[1]) << 16 | Int(store[2]) << 8 | Int(store[3]) == store.count)
        let t = try store.withUnsafeBufferPointer { try C2PATrainingMining.read(store: $0) }
        #expect(t?.denial(purpose: "train-ai") != nil)
        var gap = JPEGJUMBFAssembler()
        for s in [segments[0], segments[2]] { s.withUnsafeBufferPointer { gap.add($0) } }
        #expect(gap.boxes().isEmpty)
        // The file without its middle segment: the store cannot be put together, and that is recorded.
        var at = 2
        var cut = [UInt8](big[0..<2])
        var seen = 0
        while at + 4 <= big.count, big[at] == 0xff, big[at + 1] != 0xda {
            let n = Int(big[at + 2]) << 8 | Int(big[at + 3])
            if big[at + 1] == 0xeb { seen += 1 }
            if !(big[at + 1] == 0xeb && seen == 2) { cut += big[at..<(at + 2 + n)] }
            at += 2 + n
        }
        cut += big[at...]
        let m = ImageMetadata.scan(cut, format: .jpeg)
        #expect(m.hasC2PA && m.c2paTraining == nil && m.c2paUnreadable?.contains("APP11") == true)
    }

    func find(_ hay: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

/// RFC 8949 appendix A's examples, and the errors a hostile item can make.
@Suite struct CBORTests {
    func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test func appendixAExamples() throws {
        let cases: [(String, CBOR)] = [
            ("00", .unsigned(0)), ("17", .unsigned(23)), ("1818", .unsigned(24)), ("1903e8", .unsigned(1000)),
            ("1bffffffffffffffff", .unsigned(.max)), ("20", .negative(0)), ("3903e7", .negative(999)),
            ("f93c00", .float(1.0)), ("f97c00", .float(.infinity)), ("fa47c35000", .float(100000.0)),
            ("fb3ff199999999999a", .float(1.1)), ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null),
            ("f7", .undefined), ("f0", .simple(16)), ("f8ff", .simple(255)), ("40", .bytes([])),
            ("4401020304", .bytes([1, 2, 3, 4])), ("6161", .text("a")), ("6449455446", .text("IETF")),
            ("62c3bc", .text("\u{fc}")), ("83010203", .array([.unsigned(1), .unsigned(2), .unsigned(3)])),
            ("a201020304", .map([(.unsigned(1), .unsigned(2)), (.unsigned(3), .unsigned(4))])),
            ("c074323031332d30332d32315432303a30343a30305a", .tagged(0, .text("2013-03-21T20:04:00Z"))),
            ("5f42010243030405ff", .bytes([1, 2, 3, 4, 5])), ("7f657374726561646d696e67ff", .text("streaming")),
            ("9fff", .array([])),
            (
                "9f018202039f0405ffff",
                .array([.unsigned(1), .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])])
            ),
            ("bf6346756ef563416d7421ff", .map([(.text("Fun"), .bool(true)), (.text("Amt"), .negative(1))])),
        ]
        for (h, want) in cases {
            #expect(try CBOR.decode(hex(h)) == want, "\(h)")
        }
        let m = try CBOR.decode(hex("bf6346756ef563416d7421ff"))
        #expect(m["Fun"] == .bool(true) && m["Amt"] == .negative(1) && m["x"] == nil)
    }

    @Test func malformedItemsAreErrors() throws {
        let cases: [(String, String)] = [
            ("", "ends inside"), ("1c", "reserved"), ("18", "ends inside"), ("5a7fffffff00", "runs past"),
            ("9b00000000ffffffff", "runs past"), ("bb000000000fffffff", "runs past"), ("ff", "break outside"),
            ("0000", "bytes after"), ("62c328", "not UTF-8"), ("5f6161ff", "not a definite string"),
            ("9f01", "ends inside"), ("f818", "simple value"), ("1f", "indefinite-length integer"),
            ("df", "indefinite-length tag"), ("fc", "reserved"),
        ]
        for (h, message) in cases {
            #expect(throws: CBOR.DecodeError.self, "\(h)") { try CBOR.decode(hex(h)) }
            do {
                _ = try CBOR.decode(hex(h))
            } catch {
                #expect(error.message.contains(message), "\(h): \(error.message)")
            }
        }
        // Items are bounded: an array of 200,000 one-byte integers is refused, not built (40 bytes an item).
        let many = [0x9a, 0x00, 0x03, 0x0d, 0x40] + [UInt8](repeating: 0x01, count: 200_000)
        do {
            _ = try CBOR.decode(many)
            Issue.record("200,000 items were decoded")
        } catch {
            #expect(error.message.contains("more than 100000 items"), "\(error)")
        }
        // Nesting is bounded: 10,000 nested arrays are refused, not recursed into.
        let deep = [UInt8](repeating: 0x81, count: 10_000) + [0x00]
        #expect(throws: CBOR.DecodeError.self) { try CBOR.decode(deep) }
    }
}
