# Veriscan: `make run` starts the service, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make run` listens (make run PORT=8080 HOST=0.0.0.0); `make test` binds its test
# servers to HOST, each on a free port of its own.
HOST ?= 127.0.0.1
PORT ?= 3001

.PHONY: install run test lint format bench bench-load bench-listing bench-photo bench-media bench-virustotal bench-pickup fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh
	./scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/veriscan models install
	touch $(STAMP)

run: install
	$(BIN)/veriscan serve --host $(HOST) --port $(PORT)

test: install
	VERISCAN_TEST_HOST=$(HOST) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Issue 16's figures in one go, each with its goal: uploads of 1 GiB and 256 MiB against
# md5sum (SQLite, then PostgreSQL), small-file ingest with scans at 2,000 and 100,000
# stored files, the CPU of one scan against the engine's own (SQLite, then PostgreSQL),
# listings at 100,000 scans and the server's memory after them. PostgreSQL is
# VERISCAN_BENCH_DATABASE_URL (skipped, and said so, when it does not answer).
BENCH_PG = $${VERISCAN_BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
bench: install
	@started=$$(date +%s); \
	$(BIN)/python -u bench/upload_throughput.py --database-url "$(BENCH_PG)" && \
	$(BIN)/python -u bench/ingest.py && \
	$(BIN)/python -u bench/scan_cost.py && \
	$(BIN)/python -u bench/scan_cost.py --database-url "$(BENCH_PG)" && \
	$(BIN)/python -u bench/listing.py --database-url "$(BENCH_PG)" --requests 20 --warmup 5 \
		--no-explain && \
	echo "make bench took $$(( $$(date +%s) - started )) s (goal: under 600)"

# 50 clients for 60 s against PostgreSQL + Redis (2 serve, 2 worker), then the embedded default.
bench-load: install
	$(BIN)/python bench/load.py

# 24 to 200 megapixel photos through the image analyzers: time and peak memory.
bench-photo: install
	$(BIN)/python bench/large_photo.py

# Time from upload to verdict against the VirusTotal stand-in, premium and free keys
# (VirusTotal's times scaled by 0.1), and a local-only scan beside eight slow ones.
bench-virustotal: install
	$(BIN)/python bench/virustotal_latency.py

# How long an accepted scan waits for an idle worker: SQLite queue, then Redis if
# VERISCAN_TEST_REDIS_URL is set.
bench-pickup: install
	$(BIN)/python bench/pickup.py

# A 12 MP photo, 30 s of 1080p video and 30 s of speech through every media analyzer.
bench-media: install
	$(BIN)/python bench/media_speed.py

# Listings with scope=own vs scope=all (sharing, assignments, cases) on 100k malware + 20k
# media scans: SQLite, then PostgreSQL in a fresh database (VERISCAN_BENCH_DATABASE_URL).
bench-listing: install
	$(BIN)/python bench/listing.py --database-url "$(BENCH_PG)"

# The longer fuzzing profile: schemathesis with 200 examples per operation and a fresh seed
# (the suite runs 6 with a fixed one). VERISCAN_FUZZ_EXAMPLES / VERISCAN_FUZZ_SEED override.
fuzz: install
	VERISCAN_FUZZ_EXAMPLES=$${VERISCAN_FUZZ_EXAMPLES:-200} VERISCAN_FUZZ_SEED=$${VERISCAN_FUZZ_SEED:-} \
		$(BIN)/python -m pytest tests/fuzz -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
