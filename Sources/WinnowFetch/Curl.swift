internal import CCurl

/// A libcurl call that failed: which call (with the option's own name), and libcurl's words for why.
struct CurlError: Error, CustomStringConvertible {
    let call: String
    let code: Int
    let message: String
    var description: String { "libcurl \(call): \(message) (\(code))" }
}

/// The one funnel for libcurl results: every setopt, share, multi and add-handle call of the fetcher, the remote
/// inputs and the registry client is checked here, and a failure becomes a typed `CurlError` naming the call, instead
/// of being dropped (an option this libcurl does not support would otherwise go unnoticed).
enum Curl {
    static func check(_ code: CURLcode, _ call: @autoclosure () -> String) throws(CurlError) {
        guard code != CURLE_OK else { return }
        throw CurlError(call: call(), code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
    }

    static func check(_ code: CURLMcode, _ call: @autoclosure () -> String) throws(CurlError) {
        guard code != CURLM_OK else { return }
        throw CurlError(call: call(), code: Int(code.rawValue), message: String(cString: curl_multi_strerror(code)))
    }

    static func check(_ code: CURLSHcode, _ call: @autoclosure () -> String) throws(CurlError) {
        guard code != CURLSHE_OK else { return }
        throw CurlError(call: call(), code: Int(code.rawValue), message: String(cString: curl_share_strerror(code)))
    }

    /// The option's name as libcurl spells it (`CURLOPT_URL`).
    static func name(_ o: CURLoption) -> String {
        guard let info = curl_easy_option_by_id(o), let n = info.pointee.name else { return "option \(o.rawValue)" }
        return "CURLOPT_" + String(cString: n)
    }
}

/// Setting an easy handle's options, each checked.
struct EasyHandle {
    let easy: UnsafeMutableRawPointer

    func set(_ o: CURLoption, _ v: Int) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_long(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(_ o: CURLoption, _ v: String) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_string(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(_ o: CURLoption, offset v: curl_off_t) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_off(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(_ o: CURLoption, pointer v: UnsafeMutableRawPointer?) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_pointer(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(_ o: CURLoption, list v: UnsafeMutablePointer<curl_slist>?) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_slist(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(_ o: CURLoption, callback v: winnow_write_callback) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_write(easy, o, v), "setopt \(Curl.name(o))")
    }

    func set(openSocket v: winnow_opensocket_callback) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_opensocket(easy, v), "setopt CURLOPT_OPENSOCKETFUNCTION")
    }

    func set(share v: UnsafeMutableRawPointer?) throws(CurlError) {
        try Curl.check(winnow_easy_setopt_share(easy, v), "setopt CURLOPT_SHARE")
    }
}
