import CCurl
import Testing

@testable import WinnowFetch

/// libcurl results go through one funnel: a refused call is a typed error naming the option.
@Suite struct CurlFunnelTests {
    @Test func refusedOptionsAreTypedErrorsNamingTheOption() throws {
        let e = try #require(curl_easy_init())
        defer { curl_easy_cleanup(e) }
        let h = EasyHandle(easy: e)
        try h.set(CURLOPT_URL, "http://127.0.0.1/")
        #expect(Curl.name(CURLOPT_URL) == "CURLOPT_URL")
        do {
            try h.set(CURLoption(rawValue: 99_999), 1)
            Issue.record("an unknown option was accepted")
        } catch {
            #expect(error.code == Int(CURLE_UNKNOWN_OPTION.rawValue))
            #expect(error.description.hasPrefix("libcurl setopt option 99999: "), "\(error)")
        }
        do {
            try h.set(CURLOPT_PROTOCOLS_STR, "no-such-protocol")
            Issue.record("an unknown protocol was accepted")
        } catch {
            #expect(error.description.contains("CURLOPT_PROTOCOLS_STR"), "\(error)")
        }
    }
}
