# The same commands the README shows. CI runs `make ci` (bash .ci/run).

GO ?= go

.PHONY: test lint build bench ci pg pg-stop

# Tests that need PostgreSQL or Chromium skip unless CARAVANA_TEST_POSTGRES / CARAVANA_TEST_CHROMIUM
# are set: export CARAVANA_TEST_POSTGRES=$(scripts/pg-start) runs them against a throwaway server.
test:
	$(GO) test ./...

lint:
	@out=$$(find . -path ./.git -prune -o -path '*/testdata' -prune -o -name '*.go' -type f -exec gofmt -l {} +); \
	if [ -n "$$out" ]; then echo "gofmt -l lists files that need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Static and stripped: one binary for any Linux laptop, Raspberry Pi or Android terminal.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/caravana ./cmd/caravana

bench:
	$(GO) test -run '^$$' -bench . ./...

ci:
	bash .ci/run

# Starts a throwaway PostgreSQL and prints its URL; stop it with `make pg-stop`.
pg:
	@scripts/pg-start

pg-stop:
	@scripts/pg-stop
