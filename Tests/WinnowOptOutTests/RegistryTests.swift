import Foundation
import Testing
import WinnowCore

@testable import WinnowOptOut

struct OptOutURLTests {
    @Test func normalisesSchemeHostPortAndFragment() {
        #expect(OptOutURL.normalize("HTTPS://Example.COM:443/A/b.jpg?x=1#frag") == "https://example.com/A/b.jpg?x=1")
        #expect(OptOutURL.normalize("http://example.com") == "http://example.com/")
        #expect(OptOutURL.normalize("http://example.com:8080?q") == "http://example.com:8080/?q")
        #expect(OptOutURL.normalize("http://user@Host.example/x") == "http://user@host.example/x")
        #expect(OptOutURL.normalize("not a url") == nil)
        #expect(OptOutURL.normalize("/relative/path") == nil)
        #expect(OptOutURL.host("https://[::1]:8443/a") == "[::1]")
        #expect(OptOutURL.host("https://Img.Example.com:8443/a") == "img.example.com")
    }

    @Test(arguments: [
        "https://example.com/a.jpg", "HTTPS://example.com/a.jpg", "https://Example.com/a.jpg", "http://a.com",
        "http://a.com:80/x", "https://a.com:443/x", "https://a.com:8443/x", "http://a.com:/x", "http://a.com?q",
        "http://a.com/x#f", "http://u@a.com/x", "http://[::1]:8080/x", "not a url",
    ])
    func normalFormIsRecognisedExactly(url: String) {
        var u = url
        let normal = u.withUTF8 { OptOutURL.isNormalized($0) }
        #expect(normal == (OptOutURL.normalize(url) == url), "\(url)")
    }

    @Test func domainsAreCheckedAndNormalised() {
        #expect(OptOutURL.domain("*.Example.com.") == "example.com")
        #expect(OptOutURL.domain(".example.com") == "example.com")
        #expect(OptOutURL.domain("exa mple.com") == nil)
        #expect(OptOutURL.domain("https://example.com/") == nil)
        #expect(OptOutURL.domain("") == nil)
    }
}

struct FingerprintSetTests {
    @Test func holdsWhatWasInsertedAndNothingElse() {
        var set = FingerprintSet()
        var rng = SplitMix64(seed: 7)
        var inserted: [UInt64] = []
        for _ in 0..<100_000 {
            let f = rng.next()
            inserted.append(f)
            set.insert(f)
        }
        set.insert(0)
        #expect(set.count == 100_001)
        #expect(inserted.allSatisfy { set.contains($0) })
        #expect(set.contains(0))
        var misses = 0
        for _ in 0..<100_000 where !set.contains(rng.next()) { misses += 1 }
        #expect(misses == 100_000)
    }
}

struct RegistryTests {
    func temporaryRegistry() throws -> Registry {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-registry-\(UUID().uuidString)")
        return try Registry(path: dir.appendingPathComponent("nested/optout.sqlite").path, create: true)
    }

    @Test func malformedEntriesNameTheValue() {
        #expect(throws: WinnowError.self) { try OptOutEntry.parse(.md5, "abc") }
        #expect(throws: WinnowError.self) { try OptOutEntry.parse(.sha256, String(repeating: "g", count: 64)) }
        #expect(throws: WinnowError.self) { try OptOutEntry.parse(.url, "ftp://example.com/a") }
        #expect(throws: WinnowError.self) { try OptOutEntry.parse(.domain, "not a domain") }
        #expect(throws: WinnowError.self) { try OptOutEntry.parse(.key, "xyz") }
        do {
            _ = try OptOutEntry.parse(.sha1, "1234")
            Issue.record("a short SHA-1 was accepted")
        } catch let e as WinnowError {
            #expect(e.message.contains("\"1234\" is not a hex SHA1 (40 hex digits)"))
        } catch { Issue.record("\(error)") }
    }

    @Test func missingRegistryIsAClearError() {
        #expect(throws: WinnowError.self) { try Registry(path: "/nonexistent/winnow/optout.sqlite", create: false) }
    }

    @Test func defaultPathFollowsTheEnvironment() {
        #expect(Registry.defaultPath(["WINNOW_OPTOUT_REGISTRY": "/r.sqlite"]) == "/r.sqlite")
        #expect(Registry.defaultPath(["XDG_DATA_HOME": "/data"]) == "/data/winnow/optout.sqlite")
        #expect(Registry.defaultPath(["HOME": "/home/u"]) == "/home/u/.local/share/winnow/optout.sqlite")
    }

    @Test func filedEntriesMatchURLsDomainsPrefixesAndHashes() throws {
        let r = try temporaryRegistry()
        let imageSHA = SHA256.hexDigest(Array("image bytes".utf8))
        let urlMD5 = MD5.hexDigest(Array("http://hashed.example/p.png".utf8))
        let a = try r.file(
            requester: "Jane Artist", reason: "my work", subject: "--url ...",
            entries: [
                try OptOutEntry.parse(.url, "HTTP://Art.Example.com/cat.jpg#top"),
                try OptOutEntry.parse(.domain, "blocked.example"),
                try OptOutEntry.parse(.urlPrefix, "https://gallery.example/private/"),
            ])
        let b = try r.file(
            requester: "Hash List Org", reason: "list", subject: "--hash-list",
            entries: [try OptOutEntry.parse(.sha256, imageSHA.uppercased()), try OptOutEntry.parse(.urlMD5, urlMD5)])
        #expect(a.id == "R000001" && b.id == "R000002")
        let m = try r.matcher()
        #expect(m.count == 5)
        #expect(m.match(url: "http://art.example.com/cat.jpg")?.requestID == "R000001")
        #expect(m.match(url: "http://art.example.com/dog.jpg") == nil)
        #expect(m.match(url: "https://cdn.blocked.example/x.png")?.kind == .domain)
        #expect(m.match(url: "https://blocked.example.org/x.png") == nil)
        #expect(m.match(url: "https://notblocked.example/x.png") == nil)
        #expect(m.match(url: "https://gallery.example/private/1.jpg")?.kind == .urlPrefix)
        #expect(m.match(url: "https://gallery.example/public/1.jpg") == nil)
        #expect(m.match(url: "http://hashed.example/p.png")?.kind == .urlMD5)
        #expect(m.match(md5: nil, sha1: nil, sha256: imageSHA)?.requestID == "R000002")
        #expect(m.match(md5: nil, sha1: nil, sha256: SHA256.hexDigest([1])) == nil)
        #expect(try r.requests().map(\.requester) == ["Jane Artist", "Hash List Org"])
        #expect(try r.entries(of: "R000002").count == 2)
        #expect(throws: WinnowError.self) { try r.request("R000009") }
    }

    @Test func hashListsAreReadLineByLineAndBadLinesNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-hl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let good = dir.appendingPathComponent("good.txt").path
        let md5 = String(repeating: "a", count: 32)
        let sha1 = String(repeating: "B", count: 40)
        let sha256 = String(repeating: "c", count: 64)
        try "# list\n\(md5)\n\n\(sha1)  file.jpg\n\(sha256)\n".write(toFile: good, atomically: true, encoding: .utf8)
        let images = try Registry.readHashList(path: good, ofURLs: false)
        #expect(images.map(\.kind) == [.md5, .sha1, .sha256])
        #expect(images[1].value == sha1.lowercased())
        #expect(try Registry.readHashList(path: good, ofURLs: true).map(\.kind) == [.urlMD5, .urlSHA1, .urlSHA256])
        let bad = dir.appendingPathComponent("bad.txt").path
        try "\(md5)\nnot-a-hash\n".write(toFile: bad, atomically: true, encoding: .utf8)
        do {
            _ = try Registry.readHashList(path: bad, ofURLs: false)
            Issue.record("a malformed hash list was accepted")
        } catch let e as WinnowError {
            #expect(e.message.hasPrefix("\(bad):2: \"not-a-hash\" is not a hex MD5"))
        }
        // CRLF, CR-only and mixed line ends, and a byte order mark: the same hashes; line numbers still count lines.
        // ("\r\n\n\r" is three line ends: two empty lines.)
        for (name, end, badLine) in [("crlf", "\r\n", 2), ("cr", "\r", 2), ("mixed", "\r\n\n\r", 4)] {
            let path = dir.appendingPathComponent("\(name).txt").path
            try ("\u{FEFF}# list" + end + md5 + end + sha1 + "  file.jpg" + end + sha256 + end).write(
                toFile: path, atomically: true, encoding: .utf8)
            #expect(
                try Registry.readHashList(path: path, ofURLs: false).map(\.kind) == [.md5, .sha1, .sha256], "\(name)")
            let broken = dir.appendingPathComponent("\(name)-bad.txt").path
            try (md5 + end + "not-a-hash" + end).write(toFile: broken, atomically: true, encoding: .utf8)
            #expect {
                try Registry.readHashList(path: broken, ofURLs: false)
            } throws: { ($0 as? WinnowError)?.message.hasPrefix("\(broken):\(badLine): ") == true }
        }
    }
}
