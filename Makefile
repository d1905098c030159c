# Winnow: `make demo` and `make test` work on a fresh Debian 12 machine with the Swift 6 toolchain.
SHELL := /bin/bash
SWIFT ?= swift
export PATH := /opt/swift/usr/bin:$(PATH)
VENV := .venv
DEMO_DIR ?= demo-out

.PHONY: setup build release demo test unit interop lint format bench bench-fetch fuzz fuzz-wat profile-wat clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: release
	.build/release/winnow demo --output $(DEMO_DIR) --pipeline pipelines/demo.json

# The whole suite: unit and end-to-end tests (Swift Testing), the Python interoperability check, and the lint.
# Swift's summary line comes last, so that it closes the output.
test: setup
	$(SWIFT) build --build-tests
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory interop
	$(SWIFT) test --skip-build

$(VENV)/.ready: scripts/requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-dev.txt
	touch $@

# Validates pipelines/*.json against the schema, and reads shards written by winnow with Python's tarfile and the webdataset package, and decodes every image;
# reads the shards' Parquet files and `winnow export`'s with pyarrow and DuckDB and checks them against the index;
# validates a demo's `winnow report` (ai-act-summary.json against its schema, summary.json against the index).
interop: $(VENV)/.ready
	$(SWIFT) build
	$(VENV)/bin/python scripts/check_shards.py --winnow .build/debug/winnow
	$(VENV)/bin/python scripts/check_parquet.py --winnow .build/debug/winnow
	$(VENV)/bin/python scripts/validate_schema.py
	$(VENV)/bin/python scripts/check_report.py --winnow .build/debug/winnow

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

bench: setup
	bash scripts/bench-setup.sh
	$(SWIFT) build -c release
	.build/release/winnow-bench $(BENCH_ARGS)

# Fetch + resize against img2dataset on a local nginx web of 5,000 images (installs nginx and img2dataset if missing).
bench-fetch: setup
	bash scripts/bench_fetch.sh
	bash scripts/bench_fetch_memory.sh

# The image decoders under libFuzzer with ASan + UBSan (fuzz/image_fuzz.c; AVIF and JPEG XL in fuzz/avif_fuzz.c and
# fuzz/jxl_fuzz.c), seeded with the test images, the Parquet reader (fuzz/parquet_fuzz.swift, ASan) and the C2PA
# reader (fuzz/c2pa_fuzz.swift: APP11 reassembly, JUMBF, CBOR), for
# FUZZ_SECONDS each. Anything it finds is written to fuzz/crashes/ (kept in git: each becomes a regression fixture).
FUZZ_SECONDS ?= 60
fuzz: setup
	mkdir -p .build/fuzz/corpus fuzz/crashes
	cp Tests/WinnowImageTests/Fixtures/* .build/fuzz/corpus/
	if [ -d ../shared/fixtures/clip-tiny/images ]; then cp ../shared/fixtures/clip-tiny/images/* .build/fuzz/corpus/; fi
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -ISources/CJPEG/include \
		-ISources/CPNGDeflate/include Sources/CJPEG/winnow_jpeg.c Sources/CPNGDeflate/winnow_png_fast.c Sources/CPNGDeflate/winnow_png_rows.c \
		fuzz/image_fuzz.c -ljpeg -lpng16 -ldeflate -lwebp -lwebpdemux -lgif -o .build/fuzz/image_fuzz
	.build/fuzz/image_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
		-artifact_prefix=fuzz/crashes/ .build/fuzz/corpus fuzz/crashes
	# AVIF and JPEG XL as WinnowImage calls libavif and libjxl (fuzz/avif_fuzz.c, fuzz/jxl_fuzz.c), FUZZ_SECONDS
	# each, seeded with the fixtures of their format.
	for f in avif jxl; do \
		mkdir -p .build/fuzz/$$f-corpus && cp Tests/WinnowImageTests/Fixtures/*.$$f .build/fuzz/$$f-corpus/ && \
		clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined fuzz/$${f}_fuzz.c \
			-l$$f -o .build/fuzz/$${f}_fuzz && \
		.build/fuzz/$${f}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
			-artifact_prefix=fuzz/crashes/$$f- .build/fuzz/$$f-corpus || exit 1; \
	done
	# The Parquet reader (Swift, fuzz/parquet_fuzz.swift), seeded with the pyarrow and DuckDB fixtures.
	mkdir -p .build/fuzz/parquet-corpus && cp Tests/WinnowParquetTests/Fixtures/*.parquet .build/fuzz/parquet-corpus/
	$(SWIFT)c -sanitize=fuzzer,address -parse-as-library -O -module-name WinnowParquetFuzz \
		-ISources/CSnappy -ISources/CZstd -ISources/CZlib Sources/WinnowParquet/*.swift fuzz/parquet_fuzz.swift \
		-lsnappy -lzstd -lz -o .build/fuzz/parquet_fuzz
	.build/fuzz/parquet_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=131072 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -artifact_prefix=fuzz/crashes/parquet- .build/fuzz/parquet-corpus
	# The C2PA reader (Swift, fuzz/c2pa_fuzz.swift: APP11 reassembly, JUMBF, CBOR), seeded with the signed fixtures.
	mkdir -p .build/fuzz/c2pa-corpus && cp Tests/WinnowImageTests/Fixtures/c2pa_*.jpg .build/fuzz/c2pa-corpus/
	$(SWIFT)c -sanitize=fuzzer,address -parse-as-library -O -module-name WinnowC2PAFuzz \
		Sources/WinnowImage/C2PA/*.swift fuzz/c2pa_fuzz.swift -o .build/fuzz/c2pa_fuzz
	.build/fuzz/c2pa_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -artifact_prefix=fuzz/crashes/c2pa- .build/fuzz/c2pa-corpus fuzz/crashes

# The C that reads WAT records (CScan: record walk, container scans in every instruction set, link and page URL
# paths) under libFuzzer with ASan + UBSan, seeded with the JSON records of the real Common Crawl samples.
fuzz-wat: setup
	mkdir -p .build/fuzz-wat/corpus fuzz/crashes
	python3 scripts/wat_fuzz_seeds.py ../shared/fixtures/commoncrawl/wat .build/fuzz-wat/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -ISources/CScan/include \
		Sources/CScan/winnow_scan.c Sources/CScan/winnow_wat.c fuzz/wat_fuzz.c -o .build/fuzz-wat/wat_fuzz
	.build/fuzz-wat/wat_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -rss_limit_mb=1024 \
		-artifact_prefix=fuzz/crashes/wat- .build/fuzz-wat/corpus

# The C half of the WAT read over every record of WAT_FILE (default: the first 20 MB of the wat-300 file, which
# `make bench BENCH_ARGS=wat-300` builds), under callgrind: instruction counts by function, which do not drift as
# wall time does. Installs valgrind if missing.
WAT_FILE ?= .build/bench-data/small.wat.gz
profile-wat: setup
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	mkdir -p .build/profile-wat
	if [ "$(WAT_FILE)" = .build/bench-data/small.wat.gz ] && [ ! -f $(WAT_FILE) ]; then \
		test -f .build/bench-data/replicated-300mb.warc.wat.gz || \
			{ echo "profile-wat: run 'make bench BENCH_ARGS=wat-300' first, or give WAT_FILE=..."; exit 1; }; \
		head -c 20000000 .build/bench-data/replicated-300mb.warc.wat.gz > $(WAT_FILE).part && \
			mv $(WAT_FILE).part $(WAT_FILE); fi
	clang -O2 -gdwarf-4 -ISources/CScan/include scripts/wat_walk_profile.c Sources/CScan/winnow_scan.c \
		Sources/CScan/winnow_wat.c -ldeflate -o .build/profile-wat/walk
	valgrind --tool=callgrind --callgrind-out-file=.build/profile-wat/callgrind.out .build/profile-wat/walk $(WAT_FILE)
	callgrind_annotate --auto=no .build/profile-wat/callgrind.out | sed -n '/file:function/,$$p' | head -30

clean:
	rm -rf .build $(DEMO_DIR) $(VENV)
