import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowFetch

/// Spawning's Do-Not-Train registry, against a local fake of its v2 protocol.
@Suite(.serialized) struct SpawningRegistryTests {
    static func settings() -> FetchSettings {
        var s = FetchSettings()
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        return s
    }

    @Test func asksInBatchesAndKeepsAnswersForTheRun() throws {
        let fake = SpawningFake(key: "k123", optedOut: ["/no/"], failures: 1)
        try fake.start()
        defer { fake.stop() }
        let r = try SpawningRegistry(
            url: fake.url, environment: ["SPAWNING_OPTS_KEY": "k123"], settings: Self.settings())
        let urls = (0..<12_500).map { "http://a.test/\($0 % 10 == 0 ? "no" : "ok")/\($0).jpg" }
        let answers = try r.optedOut(urls)
        #expect(answers.count == urls.count)
        #expect(answers.values.filter { $0 }.count == 1250)
        #expect(answers["http://a.test/no/10.jpg"] == true && answers["http://a.test/ok/11.jpg"] == false)
        // 10,000 a request at most; the 503 was retried.
        #expect(fake.requestSizes == [10_000, 2_500])
        #expect(r.requests == 3)
        // Asked again (and with a duplicate): from the run's answers, no request.
        let again = try r.optedOut(["http://a.test/no/10.jpg", "http://a.test/no/10.jpg", "http://a.test/new.jpg"])
        #expect(again["http://a.test/no/10.jpg"] == true && again["http://a.test/new.jpg"] == false)
        #expect(fake.requestSizes == [10_000, 2_500, 1])
    }

    @Test func aMissingKeyOrARefusalIsAnError() throws {
        #expect(throws: WinnowError.self) {
            try SpawningRegistry(url: "http://127.0.0.1:1/", environment: [:], settings: Self.settings())
        }
        let fake = SpawningFake(key: "right", optedOut: [])
        try fake.start()
        defer { fake.stop() }
        let wrong = try SpawningRegistry(
            url: fake.url, environment: ["SPAWNING_OPTS_KEY": "wrong"], settings: Self.settings())
        #expect(throws: WinnowError.self) { try wrong.optedOut(["http://a.test/x.jpg"]) }
        // The address guard applies: loopback is refused unless allowed.
        let guarded = try SpawningRegistry(
            url: fake.url, environment: ["SPAWNING_OPTS_KEY": "right"], settings: FetchSettings())
        #expect(throws: WinnowError.self) { try guarded.optedOut(["http://a.test/x.jpg"]) }
    }
}
