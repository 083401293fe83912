# statefold — `make test` is what CI runs (via .ci/run).
SHELL := /bin/bash
GO ?= go

.PHONY: test bench release-check vet test-unit crashpoints interleavings modelcheck planted explore netfaults classification upgrade consumer-deps statefold-cmd otel go-newest generate

## test: vet, then every test under -race with every server backend required
## (starts MariaDB, PostgreSQL and dynalite when needed; see scripts/backends.sh).
## Two lanes at once (scripts/maketest.sh), each about half the CPU: the
## parts that mostly wait on servers, timeouts and injected stalls
## (classification, netfaults, interleavings, upgrade) overlap those that
## keep a core busy. Every target runs even after one failed; each
## prints its output whole when it ends, with how long it took, and the
## whole prints its duration last.
test:
	@start=$$(date +%s); \
	bash scripts/backends.sh bash scripts/maketest.sh $(MAKE) vet test-unit crashpoints modelcheck statefold-cmd otel go-newest \
		-- classification planted netfaults interleavings upgrade consumer-deps; \
	rc=$$?; t=$$(( $$(date +%s) - start )); echo "make test took $$((t / 60)) min $$((t % 60)) s (exit $$rc)"; exit $$rc

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	cd tools/testservers && $(GO) vet ./...

## test-unit: every test under -race (four packages at once: the backends'
## mostly wait on their servers), except the explorations (the
## crashpoints, interleavings, modelcheck, planted, netfaults and
## classification targets run them once,
## without -race: they are about orders of store calls, not memory races).
test-unit:
	$(GO) test -race -p 4 -count=1 -timeout 900s -skip '^(TestNetworkFaults|TestLinearizable|TestPlantedBugsFound|TestClassification|TestUpgrade|TestRollingDeploy|TestRollbackRepair)$$|^TestContract(SharedStore)?$$/^(Interleavings|ModelCheck)$$|^TestContract$$/^Orchestration$$/^CrashPoints$$' ./...

## crashpoints: re-run the crash-point exploration of the contract suite on
## every backend and print how many crash points each explored (any
## invariant violation fails it, as it failed test-unit, and so does a
## backend on which no crash point was reached).
crashpoints:
	@set -o pipefail; $(GO) test -count=1 -timeout 900s -run '^TestContract$$/^Orchestration$$/^CrashPoints$$' -v \
		./storage/memory ./storage/mysql ./storage/postgres ./storage/dynamo ./examples/custombackend | \
		awk '/crash points explored/ { n = $$NF } /^--- FAIL|^FAIL/ { print } \
			/^ok / { print "crash points explored on " $$2 ": " n ", invariant violations: 0"; \
				if (n !~ /^[1-9][0-9]*$$/) { print "no crash point explored on " $$2; bad = 1 }; n = "none" } \
			END { exit bad }'

## interleavings: re-run the interleaving explorer of the contract suite on
## every backend and print how many schedules each explored (any invariant
## violation fails it, as it failed test-unit; the failure prints the
## schedule and how to replay it alone; a backend with no schedule explored
## fails too).
interleavings:
	@set -o pipefail; $(GO) test -count=1 -timeout 900s -run '^TestContract$$/^Interleavings$$' -v \
		./storage/memory ./storage/mysql ./storage/postgres ./storage/dynamo ./examples/custombackend | \
		awk '/interleavings explored: / { n = $$0; sub(/.*interleavings explored: /, "", n) } \
			/^--- FAIL|^FAIL|^[ \t]+[a-z_]+\.go:[0-9]+: (scenario |storagetest: exploring |storagetest: .* landed after its call returned)|^[ \t]+(I|II|III|IV|V|Create): |replay it alone/ { print } \
			/^(ok|FAIL)[ \t]/ { print "interleavings explored on " $$2 ": " n; \
				if (n !~ /^[1-9][0-9]* schedules, 0 violations, [0-9]+ of [1-9][0-9]* scenarios complete$$/) bad = 1; n = "none" } \
			END { exit bad }'

## modelcheck: the model check of the contract suite on every backend —
## generated applystate and batchstate scenarios, each explored, checked
## against the specification written from the docs — printing per backend
## "model check on <backend>: N scenarios, M schedules, 0 violations"; any
## violation (printed minimized, with how to replay it), fewer than 2,000
## scenarios on memory or 100 on another backend, fails it.
## STATEFOLD_EXPLORE_SCALE scales every budget (make explore: 10).
modelcheck:
	@set -o pipefail; $(GO) test -count=1 -timeout 1800s -run '^TestContract$$/^ModelCheck$$' -v \
		./storage/memory ./storage/mysql ./storage/postgres ./storage/dynamo ./examples/custombackend | \
		awk '/model check: / { n = $$0; sub(/.*model check: /, "", n) } \
			/^--- FAIL|^FAIL|^[ \t]+[a-z_]+\.go:[0-9]+: generated scenario |replay it alone/ { print } \
			/^(ok|FAIL)[ \t]/ { print "model check on " $$2 ": " n; split(n, f, " "); \
				min = ($$2 ~ /memory$$/) ? 2000 : 100; \
				if (n !~ / 0 violations/ || f[1] + 0 < min) { print "model check: too few scenarios or a violation on " $$2; bad = 1 }; n = "none" } \
			END { exit bad }'

## planted: plant each known bug in a copy of the orchestrators' source
## (go test -overlay) and require the model check to find it alone;
## prints "planted bugs found by the explorer: K/K".
planted:
	@set -o pipefail; $(GO) test -count=1 -timeout 1800s -run '^TestPlantedBugsFound$$' -v ./internal/plant | \
		awk '/planted bug [^ ]+ found: / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); print } \
			/^[ \t]*--- FAIL|^FAIL|Error:|not found in/ { print } \
			/planted bugs found by the explorer: / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); line = $$0; print } \
			END { split(line, f, " "); split(f[length(f)], k, "/"); \
				if (line == "" || k[1] != k[2] || k[2] + 0 < 20) { print "planted: not every planted bug was found"; exit 1 } }'

## explore: the model check again, ten times longer.
explore:
	STATEFOLD_EXPLORE_SCALE=10 $(MAKE) --no-print-directory modelcheck

## netfaults: the explorer's scenarios and the crash points on MariaDB,
## PostgreSQL and dynalite with faults injected below each backend (a TCP proxy that cuts, stalls
## and resets connections; an HTTP client that loses responses, throttles,
## fails and delays DynamoDB calls), and a history of concurrent calls
## through the same faults checked for linearizability (porcupine); two
## lines per backend; any violation, a history that is not linearizable,
## or no fault injected, fails it.
netfaults:
	@set -o pipefail; $(GO) test -count=1 -timeout 900s -run '^(TestNetworkFaults|TestLinearizable)$$' -v ./storage/mysql ./storage/postgres ./storage/dynamo | \
		awk '/: network faults on / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); nf = $$0; print } \
			/linearizable on / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); lin = $$0; print } \
			/model check through network faults on / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); print } \
			/^--- FAIL|^FAIL|^[ \t]+[a-z_]+\.go:[0-9]+: (scenario |generated scenario |storagetest: exploring )|replay it alone|^[ \t]+(Error|Test|Messages):/ { print } \
			/^(ok|FAIL)[ \t]/ { if (nf !~ /: [1-9][0-9]* injected .*, 0 violations/ || lin !~ /operations, [1-9][0-9]* faults, ok/) { print "network faults: bad run on " $$2; bad = 1 }; nf = ""; lin = "" } \
			END { exit bad }'

## classification: the classification matrix on MariaDB, PostgreSQL and
## dynalite: every failure kind that can happen below each backend (refused,
## dial timeout, reset, lost or damaged responses, server errors and
## timeouts, throttling, the transport's timeout, the caller's context
## ending) against every store method, each answer and whether the row was
## written checked against the tables in docs/design.md; and the example
## custom backend under the kinds a Go wrapper of its driver layer injects
## (storagetest.RunClassification); one line per backend; a missing line or
## a wrong cell fails it.
classification:
	@set -o pipefail; $(GO) test -count=1 -timeout 600s -run '^TestClassification$$' -v ./storage/mysql ./storage/postgres ./storage/dynamo ./examples/custombackend | \
		awk '/classification on / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); line = $$0; print } \
			/^--- FAIL|^FAIL| × .*documented |classification table|^[ \t]+(test|doc|doc only|Error|Test|Messages):/ { print } \
			/^(ok|FAIL)[ \t]/ { if ($$1 == "FAIL" || line !~ /: [1-9][0-9]* cases, 0 wrong$$/) { print "classification: bad run on " $$2; bad = 1 }; line = "" } \
			END { exit bad }'

## upgrade: v0.1.0 (internal/upgrade/testdata/v0.1.0.tar.gz, built beside
## today's module) writes rollouts and queues mid-flight on MariaDB,
## PostgreSQL and dynalite, then this release migrates and takes over; plus
## the rolling-deploy and rollback rules of the README's "Upgrading". One
## line per backend and rule; a failure, a skip or a missing line fails it.
upgrade:
	@set -o pipefail; $(GO) test -count=1 -timeout 300s -run '^(TestUpgrade|TestRollingDeploy|TestRollbackRepair)$$' -v ./internal/upgrade | \
		awk '/(upgrade v0\.1\.0|rolling deploy v0\.1\.0|rollback to v0\.1\.0) / { sub(/^[ \t]*[a-z_]+\.go:[0-9]+: /, ""); print; n++ } \
			/^[ \t]*--- (FAIL|SKIP)|^FAIL|^[ \t]+[a-z_]+\.go:[0-9]+: / && !/(upgrade v0\.1\.0|rolling deploy v0\.1\.0|rollback to v0\.1\.0) / { print; if ($$0 ~ /--- (FAIL|SKIP)|^FAIL/) bad = 1 } \
			END { if (n != 9) { print "upgrade: " n " of 9 lines (3 backends x upgrade, rolling deploy, rollback)"; bad = 1 }; exit bad }'

## consumer-deps: a scratch module importing only storage/mysql (and one
## importing only applystate + storage/memory) gets none of the test-only
## dependencies (testcontainers, Docker, moby, OpenTelemetry) in its go.sum.
consumer-deps:
	@bash scripts/consumer-deps.sh

## statefold-cmd: the statefold command (cmd/statefold, its own module):
## vet, then its tests under -race — every command end to end on MariaDB,
## PostgreSQL and dynalite (a missing server fails it under make test or
## CI=true), exit codes, --help at every level, and no password in anything
## it writes.
statefold-cmd:
	cd cmd/statefold && $(GO) vet ./...
	cd cmd/statefold && $(GO) test -race -count=1 -timeout 300s ./...

## otel: the OpenTelemetry hooks (otel, its own module): vet, then its
## tests under -race — the metrics and spans of a rollout and a queue cycle,
## read with OpenTelemetry's in-memory reader and span recorder.
otel:
	cd otel && $(GO) vet ./...
	cd otel && $(GO) test -race -count=1 -timeout 120s ./...

## go-newest: make test runs on the release the go directive names (the
## oldest supported); this vets the module and runs the tests that need no
## server (under -short) on the newest Go release too (the go command fetches that
## toolchain from the module proxy, as it fetches a module).
GO_NEWEST ?= go1.27.3
go-newest:
	GOTOOLCHAIN=$(GO_NEWEST) $(GO) version
	GOTOOLCHAIN=$(GO_NEWEST) $(GO) vet ./...
	GOTOOLCHAIN=$(GO_NEWEST) $(GO) test -short -count=1 -timeout 900s -skip '^TestContract(SharedStore)?$$/^(Interleavings|ModelCheck)$$|^TestPlantedBugsFound$$' ./applystate ./batchstate ./storage ./storage/memory ./storagetest ./internal/explore ./internal/faultstore ./examples/...

## release-check: fail unless the newest version of CHANGELOG.md has its git
## tag (vX.Y.Z) on this branch's history. Not part of make test: CI never
## depends on a tag; internal/release's test checks the changelog's form.
release-check:
	@v=$$(awk -F'[][]' '/^## \[[0-9]/ { print $$2; exit }' CHANGELOG.md); \
	if [ -z "$$v" ]; then echo "release-check: no version section in CHANGELOG.md"; exit 1; fi; \
	if [ -z "$$(git tag --list "v$$v")" ]; then \
		echo "release-check: CHANGELOG.md's newest version v$$v has no tag: git tag -a v$$v -m 'statefold v$$v' <commit>"; exit 1; fi; \
	if ! git merge-base --is-ancestor "v$$v" HEAD; then echo "release-check: tag v$$v is not in HEAD's history"; exit 1; fi; \
	echo "release-check: v$$v is tagged at $$(git rev-list -n 1 "v$$v")"

## bench: the benchmarks against memory, MariaDB, PostgreSQL and dynalite.
bench:
	bash scripts/backends.sh bash scripts/bench.sh

generate:
	$(GO) generate ./...
