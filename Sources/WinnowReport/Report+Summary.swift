import Foundation
import WinnowCore
import WinnowShards

extension Report {
    /// summary.json: every figure of the page, machine-readable.
    public func summary() -> [String: Any] {
        let f = figures
        func bins(_ h: [(from: Int, to: Int?, count: Int)]) -> [[String: Any]] {
            h.map { b in
                var o: [String: Any] = ["from": b.from, "count": b.count]
                o["to"] = b.to ?? NSNull()
                return o
            }
        }
        func domainRows(_ rows: [DomainRow]) -> [[String: Any]] {
            rows.map {
                [
                    "domain": $0.domain, "samples": $0.counts.samples, "kept": $0.counts.kept,
                    "bytes": $0.counts.bytes, "kept_bytes": $0.counts.keptBytes,
                    "kept_original_bytes": $0.counts.keptOriginalBytes,
                ]
            }
        }
        func similarity(_ m: [Int: Int]) -> [[String: Any]] {
            m.keys.sorted().map { b in
                [
                    "from": Double(b) / ReportFigures.similarityBinsPerUnit - 1,
                    "to": Double(b + 1) / ReportFigures.similarityBinsPerUnit - 1, "count": m[b] ?? 0,
                ]
            }
        }
        func clusters(_ m: [Int: Int]) -> [String: Any] {
            [
                "clusters": m.values.reduce(0, +),
                "duplicates": m.reduce(0) { $0 + ($1.key - 1) * $1.value },
                "sizes": m.keys.sorted().map { ["size": $0, "clusters": m[$0] ?? 0] },
            ]
        }
        let aspectLabels = zip(
            [0.0] + ReportFigures.aspectEdges, ReportFigures.aspectEdges.map { Optional($0) } + [nil])
        let ai = aiActDomains
        var o: [String: Any] = [
            "generated_by": "winnow report",
            "generated_at": Report.iso(options.now),
            "sources": sources,
            "totals": [
                "candidates": f.candidates, "fetched": f.fetched, "kept": f.kept, "dropped": f.dropped,
                "fetched_bytes": f.fetchedBytes, "kept_original_bytes": f.keptOriginalBytes,
                "kept_stored_bytes": f.keptStoredBytes, "shards": f.shards, "shard_bytes": f.shardBytes,
                "input_errors": f.inputErrors.values.reduce(0, +),
                "shard_bytes_human": Words.bytes(f.shardBytes),
            ],
            "funnel": funnel.map { ["stage": $0.stage, "dropped": $0.dropped, "remaining": $0.remaining] },
            "reasons": Report.byStage(f.droppedByReason).flatMap { stage in
                stage.reasons.map {
                    [
                        "code": $0.code, "stage": stage.stage, "count": $0.count,
                        "description": ReasonCode.lookup($0.code)?.summary ?? "not a reason this version knows",
                    ]
                }
            },
            "input_errors": f.inputErrors,
            "domains": [
                "total": domains.count,
                "by_kept_bytes": domainRows(topByKeptBytes),
                "by_kept_count": domainRows(topByKept),
                "ai_act": [
                    "basis": "kept samples' bytes as downloaded", "share": ai.share, "total_domains": ai.total,
                    "domains": domainRows(ai.rows),
                ],
            ],
            "image_sizes": [
                "width": bins(Report.histogram(f.widths, edges: Report.sideEdges)),
                "height": bins(Report.histogram(f.heights, edges: Report.sideEdges)),
                "aspect_ratio": aspectLabels.enumerated().map { i, e in
                    ["from": e.0, "to": e.1 ?? NSNull(), "count": f.aspect[i] ?? 0] as [String: Any]
                },
            ],
            "caption_lengths": bins(Report.histogram(f.captionLengths, edges: Report.captionEdges)),
            "similarity": [
                "threshold": threshold ?? NSNull(), "bin_width": 1 / ReportFigures.similarityBinsPerUnit,
                "kept": similarity(f.similarityKept), "dropped": similarity(f.similarityDropped),
                "scored": f.similarityKept.values.reduce(0, +) + f.similarityDropped.values.reduce(0, +),
            ],
            "content_types": f.contentTypes.keys.sorted().map {
                ["type": $0, "samples": f.contentTypes[$0]?.samples ?? 0, "bytes": f.contentTypes[$0]?.bytes ?? 0]
            },
            "opt_out": [
                "by_reason": optOutReasons.map {
                    ["code": $0.code, "source": $0.source, "count": $0.count, "description": $0.description]
                },
                "page_signals": f.pageSignals.keys.sorted().map {
                    ["signal": $0, "samples": f.pageSignals[$0]?.samples ?? 0, "kept": f.pageSignals[$0]?.kept ?? 0]
                },
                "image_signals": f.imageSignals.keys.sorted().map {
                    ["signal": $0, "samples": f.imageSignals[$0]?.samples ?? 0, "kept": f.imageSignals[$0]?.kept ?? 0]
                },
            ],
            "dedup": ["exact_and_perceptual": clusters(f.duplicateClusters), "semantic": clusters(f.semanticClusters)],
            "removals": [
                "removed_samples": f.removedByRequest.values.reduce(0, +),
                "by_request": f.removedByRequest,
                "applies": f.audit.map {
                    [
                        "apply_id": $0.applyID, "time": $0.time, "requests": $0.requests, "removed": $0.removed,
                        "shards_rewritten": $0.shardsRewritten, "removed_by_match": $0.removedByMatch,
                    ]
                },
            ],
        ]
        func period(_ r: ClosedRange<String>?) -> [String: Any] {
            ["from": r.map { $0.lowerBound as Any } ?? NSNull(), "to": r.map { $0.upperBound as Any } ?? NSNull()]
        }
        let runs: [[String: Any]] = f.runs.map { run in
            var r: [String: Any] = run
            r["inputs"] = (run["inputs"] ?? "").split(separator: "\n").map(String.init)
            if let c = run["crawler"], let j = try? JSONSerialization.jsonObject(with: Data(c.utf8)) {
                r["crawler"] = j
            }
            return r
        }
        o["provenance"] =
            [
                "runs": runs, "crawls": crawls, "collection_period": period(f.runPeriod),
                "page_dates": period(f.pageDates),
            ] as [String: Any]
        return o
    }

    /// Where each opt-out reason's signal is read, for the report's grouping by source.
    static func source(of code: String) -> String {
        switch code {
        case "robots_txt", "robots_content_usage", "content_signal", "robots_unreachable": "robots.txt"
        case "tdmrep", "ai_txt": "well-known file"
        case "x_robots_tag", "tdm_reservation", "content_usage": "response header"
        case "xmp_data_mining", "c2pa_training_mining": "image metadata"
        case "page_optout": "page"
        case "spawning_registry", "spawning_unreachable": "Spawning registry"
        case "opt_out_registry", "opt_out_removed": "opt-out registry"
        default: "other"
        }
    }

    /// The opt-out stage's reasons (and removals), with where they are read, most first.
    var optOutReasons: [(code: String, source: String, count: Int, description: String)] {
        figures.droppedByReason.filter {
            let stage = ReasonCode.lookup($0.key)?.stage
            return stage == .optOut || stage == .removal || $0.key == "page_optout"
        }
        .map { ($0.key, Report.source(of: $0.key), $0.value, ReasonCode.lookup($0.key)?.summary ?? "") }
        .sorted { ($0.count, $1.code) > ($1.count, $0.code) }
    }
}
