# Tranche build. `make demo` and `make test` are the README's quick start; both
# install the system packages the build needs (C compiler, GL/X11/Wayland
# headers for Fyne; a Secret Service keyring for the keychain tests) when missing.

GO        ?= go
BIN       := bin/tranche
APT_BUILD := gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	     libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev libegl-dev
APT_TEST  := dbus dbus-x11 gnome-keyring libsecret-tools xvfb xauth
APT_SHOT  := xvfb xauth xdotool imagemagick x11-apps
# SOF_TESTS is the SQL on FHIR v2 test suite that `make test` runs the views
# conformance command against (it lives beside the project, not in it).
SOF_TESTS ?= ../shared/sql-on-fhir/tests
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The S3 server the sink tests start on loopback (core/s3test).
VERSITYGW := github.com/versity/versitygw/cmd/versitygw@v1.8.0

.PHONY: all build demo test test-go bench deps deps-test deps-s3 deps-shot screenshots fmt vet clean

all: build

# deps installs the Debian/Ubuntu packages the cgo build of Fyne needs, once.
deps:
	@missing=""; for p in $(APT_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing build dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps-test: deps
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory deps-s3

# deps-s3 installs versitygw, the S3 server the sink tests and benchmarks start.
deps-s3:
	@gobin="$$($(GO) env GOBIN)"; [ -n "$$gobin" ] || gobin="$$($(GO) env GOPATH | cut -d: -f1)/bin"; \
	if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$$gobin/versitygw" ]; then \
		echo "installing $(VERSITYGW) (S3 server for the sink tests)"; \
		$(GO) install $(VERSITYGW); \
	fi

deps-shot: deps
	@missing=""; for p in $(APT_SHOT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps
	$(GO) build -o $(BIN) ./app

# demo runs the offline demo: the loopback Bulk Data server with synthetic data.
demo: build
	$(BIN) demo

# test runs vet and the whole suite with the race detector. The keychain tests
# run against a real Secret Service (gnome-keyring on a private D-Bus session bus).
test: deps-test
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above"; exit 1)
	$(GO) vet ./...
	dbus-run-session -- sh .ci/with-keyring.sh $(GO) test -race -count=1 ./...
	@if [ -d "$(SOF_TESTS)" ]; then $(GO) run ./app views conformance "$(SOF_TESTS)"; \
	else echo "SQL on FHIR conformance skipped: $(SOF_TESTS) not found"; fi

bench: build deps-s3
	$(GO) test -run '^$$' -bench . -benchmem ./core/...
	$(BIN) bench

screenshots: build deps-shot
	sh .ci/screenshots.sh

fmt:
	gofmt -w .

clean:
	rm -rf bin
