-- Winnow shard index, schema version 1 (PRAGMA user_version = 1).
-- One row per candidate, kept or dropped. Kept rows say where their files are in the tar shards.
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('kept', 'dropped')),
    reason TEXT,
    reason_detail TEXT,
    url TEXT NOT NULL,
    caption TEXT NOT NULL,
    page_url TEXT NOT NULL,
    input_file TEXT,
    record_offset INTEGER,
    record_id TEXT,
    page_date TEXT,
    opt_out_signals TEXT,
    http_status INTEGER,
    content_type TEXT,
    attempts INTEGER,
    original_format TEXT,
    original_width INTEGER,
    original_height INTEGER,
    original_bytes INTEGER,
    stored_width INTEGER,
    stored_height INTEGER,
    stored_bytes INTEGER,
    stored_ext TEXT,
    sha256 TEXT,
    duplicate_of TEXT,
    shard TEXT,
    tar_offset INTEGER,
    offset INTEGER,
    size INTEGER
);
CREATE INDEX samples_key ON samples (key);
CREATE INDEX samples_url ON samples (url);
CREATE INDEX samples_outcome ON samples (status, reason);
CREATE INDEX samples_sha256 ON samples (sha256);
CREATE TABLE shards (
    name TEXT PRIMARY KEY,
    samples INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE run (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE input_errors (
    id INTEGER PRIMARY KEY,
    input_file TEXT NOT NULL,
    record_offset INTEGER NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
-- Version 2: the hashes that join with published metadata (LAION-5B's `hash`, cc2dataset's `uid`).
ALTER TABLE samples ADD COLUMN laion_hash INTEGER;
ALTER TABLE samples ADD COLUMN uid TEXT;
CREATE INDEX samples_laion_hash ON samples (laion_hash);
-- Version 3: the HTTP version each image came over (1.1, 2, ...).
ALTER TABLE samples ADD COLUMN http_version TEXT;
-- Version 4: MD5 and SHA-1 of the original bytes (the forms removal hash lists come in), and what the file
-- says about itself: EXIF orientation, XMP plus:DataMining, C2PA manifest present.
ALTER TABLE samples ADD COLUMN md5 TEXT;
ALTER TABLE samples ADD COLUMN sha1 TEXT;
ALTER TABLE samples ADD COLUMN exif_orientation INTEGER;
ALTER TABLE samples ADD COLUMN data_mining TEXT;
ALTER TABLE samples ADD COLUMN c2pa INTEGER;
CREATE INDEX samples_md5 ON samples (md5);
CREATE INDEX samples_sha1 ON samples (sha1);
-- Version 5: the PDQ perceptual hash of the decoded image (64 hex digits) and its quality (0-100).
ALTER TABLE samples ADD COLUMN pdq TEXT;
ALTER TABLE samples ADD COLUMN pdq_quality INTEGER;
-- Version 6: the CLIP image-text cosine similarity of every sample the embed stage saw, and for kept samples
-- the row of their embeddings in the shard's img_emb/img_emb_NNNNN.npy and text_emb/text_emb_NNNNN.npy.
ALTER TABLE samples ADD COLUMN similarity REAL;
ALTER TABLE samples ADD COLUMN embedding_row INTEGER;
-- Version 7: the PDQ of the image inside a uniform border (frame, letterbox, padding), when it has one.
ALTER TABLE samples ADD COLUMN pdq_trimmed TEXT;
-- Version 8: semantic near-duplicates (winnow dedup: SemDeDup over the CLIP image embeddings): the sample's
-- k-means cluster and, for a duplicate, the key of the kept sample it duplicates and their cosine.
ALTER TABLE samples ADD COLUMN semantic_cluster INTEGER;
ALTER TABLE samples ADD COLUMN semantic_duplicate_of TEXT;
ALTER TABLE samples ADD COLUMN semantic_similarity REAL;
-- Version 9: opt-out removals (winnow optout apply): the request that removed a kept sample and when, and the
-- renames and audit entry an interrupted apply still owes; the captions' full-text index (FTS5, Porter stemming: circle finds circles).
ALTER TABLE samples ADD COLUMN removed_by TEXT;
ALTER TABLE samples ADD COLUMN removed_at TEXT;
CREATE TABLE pending_renames (partial TEXT PRIMARY KEY, final TEXT NOT NULL);
CREATE TABLE pending_audit (id INTEGER PRIMARY KEY, apply_id TEXT NOT NULL, entry TEXT NOT NULL);
CREATE VIRTUAL TABLE samples_fts USING fts5(caption, content='samples', content_rowid='id', tokenize='porter unicode61');
INSERT INTO samples_fts (samples_fts) VALUES ('rebuild');
-- Version 10: the input columns a run saved with each sample (--save-additional-columns), as a JSON object
-- by output name; their names and types are in the run property saved_columns.
ALTER TABLE samples ADD COLUMN saved_columns TEXT;
-- Version 11: what the image's C2PA training-and-data-mining assertion says (cawg.training-mining: ...).
ALTER TABLE samples ADD COLUMN c2pa_training TEXT;
