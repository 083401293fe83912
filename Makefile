# statefold — `make test` is what CI runs (via .ci/run).
SHELL := /bin/bash
GO ?= go

.PHONY: test bench vet test-unit fmt generate

## test: vet, then every test under -race with both server backends required
## (starts MariaDB and dynalite when needed; see scripts/backends.sh).
test:
	bash scripts/backends.sh $(MAKE) --no-print-directory vet test-unit

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test-unit:
	$(GO) test -race -count=1 ./...

## bench: the benchmarks against memory, MariaDB and dynalite.
bench:
	bash scripts/backends.sh bash scripts/bench.sh

generate:
	$(GO) generate ./...
