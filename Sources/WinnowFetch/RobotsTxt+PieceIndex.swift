/// Which of many literal pieces occur anywhere in a path, found in one pass over the path (Aho-Corasick): time
/// linear in the path plus the number of pieces, whatever the pieces are. A large rule set asks it first and runs
/// the exact matcher only on rules whose every later piece occurs, so that a file of thousands of long rules costs a
/// pass over the path, not a search of the path per rule (issue 29: 2,000 rules `/*a...ab<k>` against a path that
/// holds every byte they need cost 3 ms a decision with a search per rule).
struct PieceIndex: Sendable {
    /// Per node, its edges: `edgeByte[edgeStart[n]..<edgeStart[n + 1]]`, sorted, and their targets.
    private let edgeStart: [Int32]
    private let edgeByte: [UInt8]
    private let edgeTarget: [Int32]
    /// The node of the longest proper suffix of a node's string that is also in the trie.
    private let fail: [Int32]
    /// The piece a node's string is (-1: none), and the nearest node down the suffix chain that is a piece.
    private let piece: [Int32]
    private let output: [Int32]
    /// How many distinct pieces.
    let count: Int

    /// Indexes `pieces`; a piece's id is its position in the list.
    init(_ pieces: [[UInt8]]) {
        count = pieces.count
        // The trie, with children kept per node while it is built.
        var children: [[(UInt8, Int32)]] = [[]]
        var pieceAt: [Int32] = [-1]
        for (id, p) in pieces.enumerated() {
            var node = 0
            for b in p {
                if let next = children[node].first(where: { $0.0 == b })?.1 {
                    node = Int(next)
                } else {
                    children.append([])
                    pieceAt.append(-1)
                    children[node].append((b, Int32(children.count - 1)))
                    node = children.count - 1
                }
            }
            pieceAt[node] = Int32(id)
        }
        var starts: [Int32] = [0]
        var bytes: [UInt8] = []
        var targets: [Int32] = []
        for c in children {
            for (b, t) in c.sorted(by: { $0.0 < $1.0 }) {
                bytes.append(b)
                targets.append(t)
            }
            starts.append(Int32(bytes.count))
        }
        edgeStart = starts
        edgeByte = bytes
        edgeTarget = targets
        piece = pieceAt
        // Suffix links, breadth first.
        var failLinks = [Int32](repeating: 0, count: children.count)
        var outputs = [Int32](repeating: -1, count: children.count)
        var queue: [Int32] = children[0].map(\.1)
        var head = 0
        while head < queue.count {
            let u = Int(queue[head])
            head += 1
            for (b, v) in children[u] {
                var f = Int(failLinks[u])
                var link: Int32 = 0
                while true {
                    if u != 0, let next = PieceIndex.child(f, b, starts, bytes, targets) {
                        link = next
                        break
                    }
                    if f == 0 { break }
                    f = Int(failLinks[f])
                }
                failLinks[Int(v)] = link
                outputs[Int(v)] = pieceAt[Int(link)] >= 0 ? link : outputs[Int(link)]
                queue.append(v)
            }
        }
        fail = failLinks
        output = outputs
    }

    private static func child(
        _ node: Int, _ b: UInt8, _ starts: [Int32], _ bytes: [UInt8], _ targets: [Int32]
    ) -> Int32? {
        var lo = Int(starts[node])
        var hi = Int(starts[node + 1])
        while lo < hi {
            let mid = (lo + hi) / 2
            if bytes[mid] < b { lo = mid + 1 } else { hi = mid }
        }
        return lo < Int(starts[node + 1]) && bytes[lo] == b ? targets[lo] : nil
    }

    /// For each piece, whether it occurs in `path`.
    func occurring(in path: [UInt8]) -> [Bool] {
        var seen = [Bool](repeating: false, count: count)
        var state = 0
        for b in path {
            while true {
                if let next = PieceIndex.child(state, b, edgeStart, edgeByte, edgeTarget) {
                    state = Int(next)
                    break
                }
                if state == 0 { break }
                state = Int(fail[state])
            }
            // The pieces ending here, longest first; one seen before means the shorter ones (its suffixes) were
            // seen with it, so each piece is marked once in all.
            var o = piece[state] >= 0 ? state : Int(output[state])
            while o >= 0 {
                let id = Int(piece[o])
                if seen[id] { break }
                seen[id] = true
                o = Int(output[o])
            }
        }
        return seen
    }
}
