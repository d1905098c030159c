import Foundation

/// Errors from Foundation or the system in one line for people: the path they name and the operating system's
/// reason (`/proc/x: cannot create the file: No such file or directory`), never Foundation's dump
/// (`Error Domain=NSCocoaErrorDomain Code=4 ... UserInfo={...}`, `(NSCocoaErrorDomain error 512.)`).
public enum SystemError {
    /// The error as one line: a `WinnowError`'s message as it is; a Foundation error as `PATH: reason`.
    public static func describe(_ error: Error) -> String {
        if let e = error as? WinnowError { return e.message }
        let ns = error as NSError
        let path =
            (ns.userInfo[NSFilePathErrorKey] as? String)
            ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        guard let path else { return reason(error) }
        // Foundation's "unknown write error" for a path under a file: say which file is in the way.
        if ns.domain == NSCocoaErrorDomain && ns.code == 512 {
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty && parent != "/" {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) {
                    if !isDirectory.boolValue { return "\(path): cannot create: \(parent) is a file, not a directory" }
                    break
                }
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        return "\(path): \(reason(error))"
    }

    /// The operating system's reason in an error (`No such file or directory`), without the path.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case 4, 260: return String(cString: strerror(ENOENT))
            case 257, 513: return String(cString: strerror(EACCES))
            case 516: return String(cString: strerror(EEXIST))
            case 640: return String(cString: strerror(ENOSPC))
            case 642: return String(cString: strerror(EROFS))
            case 256: return "cannot read"
            case 512: return "cannot write"
            default: break
            }
        }
        let text = ns.localizedDescription
        return text.contains("Error Domain=") ? "\(ns.domain) error \(ns.code)" : text
    }
}
