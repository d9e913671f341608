#!/usr/bin/env bash
# Runs Tandem's checks on a fresh Debian machine (or any machine with Go,
# redis-server and docker-compose): installs what is missing, then checks
# the lab's docker-compose.yml, go vet, the linters and the race-enabled
# test suite, then fuzzes every fuzz target briefly.
# Tests start their own redis-server (and Redis Sentinels) on free loopback
# ports, so a Redis already running on 6379 is never touched.
#
# Usage: scripts/test.sh [extra go test flags, e.g. -run TestName -v]
# (TANDEM_FUZZ_SECONDS=0 skips the fuzzing; see below.)
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

# What the checks need from the system: the redis-server binary (not a
# running service), a C compiler because -race needs cgo, Debian's
# docker-compose (1.29, stricter than Compose v2) to validate the lab's
# docker-compose.yml (no Docker daemon needed for that), and Debian's
# chromium for the browser tests.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
can_install() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }
missing=()
if ! have redis-server; then
	missing+=(redis-server)
fi
if ! command -v "$(go env CC)" >/dev/null 2>&1; then
	missing+=(gcc libc6-dev)
fi
if ! have docker-compose; then
	missing+=(docker-compose)
fi
# The browser tests (webtest/) drive Debian's headless Chromium, installed
# as /usr/bin/chromium (TANDEM_CHROMIUM names another executable).
if [ -z "${TANDEM_CHROMIUM:-}" ] && ! have chromium; then
	missing+=(chromium)
fi
# The Sentinel tests run redis-sentinel (Debian's redis-sentinel package);
# it is the redis-server executable under another name, so without the
# package they run `redis-server --sentinel` instead: install it where we
# can, never fail for it.
optional=()
if ! have redis-sentinel && can_install; then
	optional+=(redis-sentinel)
fi
if [ "${#missing[@]}" -gt 0 ] && ! can_install; then
	echo "missing: ${missing[*]}; install them (Debian: sudo apt-get install -y ${missing[*]}) and run again" >&2
	exit 1
fi
if [ "$((${#missing[@]} + ${#optional[@]}))" -gt 0 ]; then
	log "installing ${missing[*]} ${optional[*]} (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# docker-compose recommends docker.io (a daemon): not needed here.
	apt-get install -y --no-install-recommends "${missing[@]}" "${optional[@]}"
fi
export CGO_ENABLED=1

log "$(go version), $(redis-server --version | cut -d' ' -f1-3)"
log "go mod download"
go mod download

log "docker-compose config -q ($(docker-compose version --short 2>/dev/null || echo '?'))"
docker-compose -f docker-compose.yml config -q

log "go vet ./..."
go vet ./...

# golangci-lint, pinned: errcheck, govet, ineffassign, staticcheck, unused
# and gofmt (.golangci.yml). `go run` builds it once into Go's cache.
golangci_lint=github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
log "golangci-lint run ./... ($golangci_lint)"
go run "$golangci_lint" run ./...

log "go test -race -count=1 -timeout 20m ./..."
go test -race -count=1 -timeout 20m "$@" ./...

# Brief fuzzing: every fuzz target of the module (the run above has
# already replayed their committed corpora, testdata/fuzz/<Name>, as plain
# tests) is fuzzed for a share of TANDEM_FUZZ_SECONDS (default 40; at most
# 10 s and at least 2 s a target; 0 skips fuzzing), so that the whole stays
# near a minute. The targets are found, not listed here: grep narrows the
# packages to those with a `func Fuzz` in a test file, and `go test -list`
# names their targets. A failing input is written to the package's
# testdata/fuzz/<Name>/ and fails the script: commit it with the fix, as a
# regression seed.
budget=${TANDEM_FUZZ_SECONDS:-40}
fuzz_targets=()
if [ "$budget" -gt 0 ]; then
	for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
		for name in $(go test -list '^Fuzz' "$dir" | grep '^Fuzz'); do
			fuzz_targets+=("$dir $name")
		done
	done
fi
if [ "${#fuzz_targets[@]}" -gt 0 ]; then
	each=$((budget / ${#fuzz_targets[@]}))
	each=$((each > 10 ? 10 : each < 2 ? 2 : each))
	for target in "${fuzz_targets[@]}"; do
		read -r dir name <<<"$target"
		log "go test -run '^\$' -fuzz '^$name\$' -fuzztime ${each}s $dir"
		go test -run '^$' -fuzz "^$name\$" -fuzztime "${each}s" "$dir"
	done
fi

log "all checks passed"
