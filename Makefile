# Janus — the two commands a newcomer needs are `make up` and `make test`.
SHELL := /usr/bin/env bash
GO ?= go
export GOPROXY := $(shell $(GO) env GOPROXY | cut -d, -f1)
export GOFLAGS := -buildvcs=false
BIN := _output/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# What the binaries say they are (pkg/version): the tag of HEAD, if it has
# one, and v0.0.0-dev otherwise; the commit; and the commit's date, so that
# two builds of one commit are the same bytes.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --exact-match 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/infroware/janus/pkg/version
LDFLAGS = -X $(VERSION_PKG).gitVersion=$(VERSION) -X $(VERSION_PKG).gitCommit=$(COMMIT) -X $(VERSION_PKG).buildDate=$(BUILD_DATE) -X github.com/infroware/janus/pkg/agent.Version=$(VERSION)
# make image: where the images are named, and for which platforms.
IMAGE_REPOSITORY ?= ghcr.io/infroware
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)

.PHONY: all up status down test test-unit test-integration test-e2e build image release test-image codegen verify verify-codegen web-assets verify-web-assets manifests verify-manifests lint fuzz bench soak clean

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
	hack/ensure-runc.sh
	$(GO) test -count=1 -timeout 45m ./...

## test-image: build the janus-apiserver image and check it (hack/image; also
## part of make test: its static -trimpath build shares no compiled package
## with the rest, measured 8 min cold on a loaded 2-core machine, 20 s warm),
## then run it with runc, read-only and as 65532, as the testbed's
## janus-apiserver (needs root; hack/ensure-runc.sh installs runc)
test-image:
	hack/ensure-runc.sh
	$(GO) test -count=1 -timeout 30m -v ./hack/image

test-unit:
	hack/ensure-postgres.sh
	$(GO) test -count=1 ./pkg/...

test-integration:
	hack/ensure-postgres.sh
	$(GO) test -count=1 ./test/integration/...

test-e2e:
	$(GO) test -count=1 -timeout 30m -v ./test/e2e/...

## build: the binaries, into _output/bin, version stamped
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## image: the janus-apiserver, janus-agent and janus-console images as OCI
## archives in _output/images, built without a container daemon (hack/image)
image:
	$(GO) run ./hack/image -o _output/images -repository $(IMAGE_REPOSITORY) -platforms $(IMAGE_PLATFORMS) \
	  -version $(VERSION) -commit $(COMMIT) -build-date $(BUILD_DATE)

## release: kubectl-janus for linux, darwin and windows on amd64 and arm64,
## archived with SHA256SUMS and the krew manifest, into _output/release
release:
	VERSION=$(VERSION) BUILD_DATE=$(BUILD_DATE) LDFLAGS="-s -w $(LDFLAGS)" hack/release.sh

## codegen: regenerate deepcopy, conversions, defaults, OpenAPI and the client
codegen:
	hack/update-codegen.sh

verify: lint verify-codegen verify-web-assets verify-docs verify-manifests

## docs: the flags reference, docs/flags/<command>.md, from the commands themselves
.PHONY: docs verify-docs
docs:
	$(GO) run ./hack/docs

verify-docs:
	$(GO) run ./hack/docs -check

verify-codegen:
	hack/verify-codegen.sh

## web-assets: the console's htmx and xterm.js files, as web/package-lock.json pins them, into web/static/vendor
web-assets:
	hack/update-web-assets.sh

verify-web-assets:
	hack/verify-web-assets.sh

## manifests: render artifacts/central, artifacts/console and artifacts/agent from charts/ (hack/update-manifests.sh)
manifests:
	hack/update-manifests.sh

verify-manifests:
	hack/verify-manifests.sh

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
	$(GO) test ./test/console -run '^$$' -bench 'KeystrokeToEchoInTheBrowser' -benchtime 200x
	$(GO) test ./test/console -run '^$$' -bench 'ApprovalsPageWith1000Requests' -benchtime 50x

## soak: the load suite of issue 14, on loopback and bounded by its
## timeouts (about 9 minutes here): approve → Active and revoke → grant
## removed (100 each), 100 requests expiring in one second, create +
## approve throughput on SQLite and on PostgreSQL, 1,000 connected
## agents, and 1,000 requests through a leader's SIGKILL, an agent's
## SIGKILL, a PostgreSQL restart and crash (BenchmarkFaults, about 4 minutes,
## failing if a write or a grant is lost or left); the figures are the
## benchmarks' metrics. Not part of make test.
soak:
	hack/ensure-postgres.sh
	$(GO) test ./test/e2e -run '^$$' -bench '^Benchmark(ApproveToActive|RevokeToGrantRemoved)$$' -benchtime 100x -timeout 20m
	$(GO) test ./test/e2e -run '^$$' -bench '^Benchmark(ExpiryOfAHundredInOneSecond|CreateAndApprove|ThousandAgents)$$' -benchtime 1x -timeout 40m
	$(GO) test ./test/e2e -run '^$$' -bench '^BenchmarkFaults$$' -benchtime 1x -timeout 30m

clean:
	rm -rf _output
