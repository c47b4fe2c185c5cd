# Janus — the two commands a newcomer needs are `make up` and `make test`.
SHELL := /usr/bin/env bash
GO ?= go
export GOPROXY := $(shell $(GO) env GOPROXY | cut -d, -f1)
export GOFLAGS := -buildvcs=false
BIN := _output/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all up status down test test-unit test-integration test-e2e build codegen verify verify-codegen web-assets verify-web-assets lint fuzz bench clean

all: build

## up: start the local playground (control plane, janus-apiserver, demo users) and print what to type next
up:
	@echo "make up: compiling the playground (with a cold Go cache this and the binaries it builds take several minutes; each step says what it does)"
	$(GO) run ./cmd/janus-playground up

## status: show what the playground runs
status:
	$(GO) run ./cmd/janus-playground status

## down: stop the playground; nothing is left running
down:
	$(GO) run ./cmd/janus-playground down

## test: everything CI runs — lint, generated-code check, unit, integration and e2e tests
test: verify fuzz
	hack/ensure-postgres.sh
	hack/ensure-chromium.sh
	$(GO) test -count=1 -timeout 45m ./...

test-unit:
	$(GO) test -count=1 ./pkg/...

test-integration:
	hack/ensure-postgres.sh
	$(GO) test -count=1 ./test/integration/...

test-e2e:
	$(GO) test -count=1 -timeout 30m -v ./test/e2e/...

## build: the binaries, into _output/bin
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## codegen: regenerate deepcopy, conversions, defaults, OpenAPI and the client
codegen:
	hack/update-codegen.sh

verify: lint verify-codegen verify-web-assets

verify-codegen:
	hack/verify-codegen.sh

## web-assets: the console's htmx and xterm.js files, as web/package-lock.json pins them, into web/static/vendor
web-assets:
	hack/update-web-assets.sh

verify-web-assets:
	hack/verify-web-assets.sh

lint:
	@out=$$(git ls-files '*.go' | grep -v '^pkg/generated/' | grep -v zz_generated | xargs gofmt -l); \
	  if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) $$($(GO) list ./... | grep -v /pkg/generated/)

## fuzz: each fuzz target for a bounded number of inputs (FUZZ_TIME); what
## it finds is kept under the package's testdata/fuzz and fails the run
FUZZ_TIME ?= 20000x
FUZZ_TARGETS := pkg/session:FuzzReadFrameHeader pkg/session:FuzzSanitize \
	pkg/tunnel:FuzzDecodeExecOptions pkg/tunnel:FuzzDecodeLogOptions pkg/tunnel:FuzzStreamProtocols
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$t ($(FUZZ_TIME))"; \
	  $(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZ_TIME) -parallel 1 || exit 1; \
	done

## bench: the benchmarks named in the issues
bench:
	hack/ensure-postgres.sh
	$(GO) test ./test/integration -run '^$$' -bench . -benchtime 300x
	$(GO) test ./test/e2e -run '^$$' -bench 'ApproveToActive|ExpiryToGrantRemoved' -benchtime 100x
	$(GO) test ./test/e2e -run '^$$' -bench 'ExecVersusDirect|ConcurrentSessions' -benchtime 1x -timeout 30m
	hack/ensure-chromium.sh
	$(GO) test ./test/console -run '^$$' -bench 'ApproveToActiveInTheBrowser' -benchtime 20x
	$(GO) test ./test/console -run '^$$' -bench 'ApprovalsPageWith1000Requests' -benchtime 50x

clean:
	rm -rf _output
