-- The baseline of the report-10m benchmark (winnow-bench report-10m): the figures `winnow report` computes, as plain
-- SELECT ... GROUP BY queries run by the sqlite3 shell over the same index (the queries of
-- Sources/WinnowShards/ReportFigures.swift, IndexReader.reportFigures; keep the two alike).
SELECT count(*), sum(status = 'kept'), sum(status = 'dropped'), sum(original_bytes IS NOT NULL), sum(original_bytes),
       sum(CASE WHEN status = 'kept' THEN original_bytes END), sum(CASE WHEN status = 'kept' THEN stored_bytes END),
       min(page_date), max(page_date)
FROM samples;
SELECT count(*), sum(bytes) FROM shards;
SELECT reason, count(*) FROM samples WHERE status = 'dropped' GROUP BY reason;
SELECT code, count(*) FROM input_errors GROUP BY code;
SELECT lower(substr(rest, 1, instr(rest || '/', '/') - 1)) AS host, count(*), sum(status = 'kept'), sum(original_bytes),
       sum(CASE WHEN status = 'kept' THEN stored_bytes END), sum(CASE WHEN status = 'kept' THEN original_bytes END)
FROM (SELECT substr(url, instr(url, '://') + 3) AS rest, status, original_bytes, stored_bytes FROM samples) GROUP BY host;
SELECT original_width AS v, count(*) FROM samples WHERE status = 'kept' AND original_width IS NOT NULL GROUP BY v;
SELECT original_height AS v, count(*) FROM samples WHERE status = 'kept' AND original_height IS NOT NULL GROUP BY v;
SELECT CASE WHEN r < 0.25 THEN 0 WHEN r < 0.5 THEN 1 WHEN r < 0.67 THEN 2 WHEN r < 0.8 THEN 3 WHEN r < 0.95 THEN 4
            WHEN r < 1.05 THEN 5 WHEN r < 1.25 THEN 6 WHEN r < 1.5 THEN 7 WHEN r < 2 THEN 8 WHEN r < 4 THEN 9 ELSE 10 END AS bin,
       count(*)
FROM (SELECT original_width * 1.0 / original_height AS r FROM samples
      WHERE status = 'kept' AND original_width > 0 AND original_height > 0) GROUP BY bin;
SELECT length(caption) AS v, count(*) FROM samples WHERE status = 'kept' GROUP BY v;
SELECT status = 'kept' AS kept, CAST((similarity + 1) * 50.0 AS INTEGER) AS bin, count(*)
FROM samples WHERE similarity IS NOT NULL GROUP BY kept, bin;
SELECT coalesce(nullif(lower(trim(CASE WHEN instr(content_type, ';') > 0
           THEN substr(content_type, 1, instr(content_type, ';') - 1) ELSE content_type END)), ''),
           'format:' || original_format, 'unknown') AS type, count(*), sum(stored_bytes), sum(original_bytes)
FROM samples WHERE status = 'kept' GROUP BY type;
SELECT n + 1 AS size, count(*) FROM (SELECT count(*) AS n FROM samples WHERE duplicate_of IS NOT NULL GROUP BY duplicate_of) GROUP BY size;
SELECT n + 1 AS size, count(*) FROM (SELECT count(*) AS n FROM samples WHERE semantic_duplicate_of IS NOT NULL GROUP BY semantic_duplicate_of) GROUP BY size;
SELECT opt_out_signals, count(*), sum(status = 'kept') FROM samples WHERE opt_out_signals IS NOT NULL GROUP BY opt_out_signals;
SELECT sum(data_mining IS NOT NULL), sum(status = 'kept' AND data_mining IS NOT NULL), sum(c2pa = 1),
       sum(status = 'kept' AND c2pa = 1), sum(c2pa_training LIKE '%training-mining:%'),
       sum(status = 'kept' AND c2pa_training LIKE '%training-mining:%')
FROM samples;
SELECT removed_by, count(*) FROM samples WHERE removed_by IS NOT NULL GROUP BY removed_by;
SELECT name, value FROM run;
