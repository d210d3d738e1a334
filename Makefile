# The two commands a new user types: `make run` and `make test`. Both set up what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres test-sm2 screenshots chromium setup contracts gas bench bench-crypto bench-pages soak slither clean

setup: $(VENV)/.installed node_modules/.installed

# pip and npm print their progress (no --quiet): a first setup takes minutes and must not look hung.
$(VENV)/.installed: pyproject.toml
	@echo "== setup 1/2: Python packages into $(VENV) (pip; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "== setup 2/2: ganache, anvil, hardhat and solc into node_modules (npm ci; about a minute)"
	npm ci --no-audit --no-fund
	touch $@

## Start ganache (state kept in .certnet/), deploy and bootstrap the demo consortium once, serve the gateway
## on http://127.0.0.1:8000 until Ctrl-C. CRYPTO=sm2-sm3 deploys it under the national suite (SM2/SM3); the
## suite is fixed at deployment, so a data directory keeps the suite it was first run with.
CRYPTO ?=
run: setup
	$(BIN)/certnet run $(if $(CRYPTO),--crypto $(CRYPTO))

## Every test: artifact freshness, Python suites (embedded chain, ganache and anvil), Hardhat suite. The Python
## suites run in two pytest-xdist workers, a test file per worker at a time (each worker starts its own devnet and
## gateway; most tests wait for 1-second blocks, so two share two cores well).
test: setup chromium
	$(BIN)/certnet contracts check
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not postgres" --durations=30
	npx hardhat test

## The gateway's API suites again with its database on a throwaway PostgreSQL cluster, and the tests that need
## PostgreSQL (several gateway processes on one database, migrations).
test-postgres: setup
	scripts/with_postgres.sh $(BIN)/python -m pytest -q tests/gateway/test_api.py tests/gateway/test_permissions.py \
		tests/gateway/test_hostile_input.py
	scripts/with_postgres.sh $(BIN)/python -m pytest -q -m postgres

## The gateway's API suites (issuance single and batch, verification, sharing, permissions, hostile input) again on
## a consortium deployed under the national crypto suite, sm2-sm3 (CI runs it beside test-postgres).
test-sm2: setup
	CERTNET_TEST_CRYPTO=sm2-sm3 $(BIN)/python -m pytest -q -n 2 --dist loadfile tests/gateway/test_api.py tests/gateway/test_permissions.py \
		tests/gateway/test_hostile_input.py tests/gateway/test_sharing.py tests/gateway/test_sharing_gbt36906.py

## Debian's Chromium for the browser tests (Playwright drives it; `playwright install` would download a browser).
chromium:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || scripts/install_chromium.sh

## The browser tests, their page screenshots kept in docs/screenshots (the README shows them).
screenshots: setup chromium
	CERTNET_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -m browser

## Recompile contracts/ into the artifacts the Python package ships.
contracts: setup
	$(BIN)/certnet contracts compile

## The gateway beside its peers on one chain of 1 000 000 blocks, built once and cached under cache/bench/, and
## 1, 2 and 4 gateway processes on a throwaway PostgreSQL cluster
## (docs/benchmarks.md holds a recorded run; BENCH_ARGS="--markdown docs/benchmarks.md" rewrites its table,
## BENCH_ARGS="--blocks 20000 --events 2000 ..." is a quick try; scripts/bench.py --help lists the sizes).
## First the crypto suites side by side (hash, signature, check, composing a batch of 10 000 under secp256k1-keccak
## and sm2-sm3; about a minute; fails when sm2-sm3 composes more than 2x slower), `make bench-crypto` alone.
BENCH_ARGS ?=
bench: setup bench-crypto
	scripts/with_postgres.sh $(BIN)/python scripts/bench.py $(BENCH_ARGS)

CRYPTO_BENCH_ARGS ?=
bench-crypto: setup
	$(BIN)/python scripts/bench_crypto.py $(CRYPTO_BENCH_ARGS)

## Each web page beside the API call it shows, on a devnet gateway (about a minute; fails when a page costs more
## than twice its API call). PAGES_ARGS="--markdown docs/benchmarks.md" rewrites its table there.
PAGES_ARGS ?=
bench-pages: setup
	$(BIN)/python scripts/bench_pages.py $(PAGES_ARGS)

## A mixed load for MINUTES against a gateway on anvil: 5xx, operations left open, RSS, index lag, checkpoint age
## (docs/benchmarks.md holds a recorded run; exit 1 on a 5xx or an operation not final).
MINUTES ?= 30
soak: setup
	$(BIN)/python scripts/soak.py --minutes $(MINUTES)

## Gas table of every contract operation beside OpenAttestation's DocumentStore (docs/gas.md).
gas: setup
	$(BIN)/python scripts/gas_report.py --markdown docs/gas.md --breakdown

## Static analysis of the contracts (own virtualenv: slither needs web3 < 8).
slither: setup
	scripts/slither.sh

clean:
	rm -rf $(VENV) node_modules cache hardhat-artifacts .pytest_cache
