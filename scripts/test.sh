#!/usr/bin/env bash
# Runs Tandem's checks on a fresh Debian machine (or any machine with Go and
# redis-server): installs what is missing, then go vet and the race-enabled
# test suite. Tests start their own redis-server on free loopback ports, so
# a Redis already running on 6379 is never touched.
#
# Usage: scripts/test.sh [extra go test flags, e.g. -run TestName -v]
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH="/usr/local/go/bin:$PATH"
	else
		echo "go not found: install Go $(sed -n 's/^go //p' go.mod) or newer (https://go.dev/dl/) and run again" >&2
		exit 1
	fi
fi

# What the tests need from the system: the redis-server binary (not a
# running service), and a C compiler because -race needs cgo.
missing=()
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
	missing+=(redis-server)
fi
if ! command -v "$(go env CC)" >/dev/null 2>&1; then
	missing+=(gcc libc6-dev)
fi
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing ${missing[*]} (Debian packages)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y "${missing[@]}"
	else
		echo "missing: ${missing[*]}; install them (Debian: sudo apt-get install -y ${missing[*]}) and run again" >&2
		exit 1
	fi
fi
export CGO_ENABLED=1

log "$(go version), $(redis-server --version | cut -d' ' -f1-3)"
log "go mod download"
go mod download

log "go vet ./..."
go vet ./...

# golangci-lint, pinned: errcheck, govet, ineffassign, staticcheck, unused
# and gofmt (.golangci.yml). `go run` builds it once into Go's cache.
golangci_lint=github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
log "golangci-lint run ./... ($golangci_lint)"
go run "$golangci_lint" run ./...

log "go test -race -count=1 -timeout 20m ./..."
go test -race -count=1 -timeout 20m "$@" ./...

log "all checks passed"
