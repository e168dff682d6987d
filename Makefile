# synscope: common tasks. Plain go commands work too; see README.md.
GO      ?= go
BIN     ?= bin/sensor
CORPUS  ?= $(abspath ../shared/pcaps)

.PHONY: build test demo bench generate fuzz check clean

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/sensor
	CGO_ENABLED=0 $(GO) build -o bin/pcapgen ./cmd/pcapgen

test:
	SENSOR_CORPUS=$(CORPUS) $(GO) test -count=1 ./...

demo: build
	$(BIN) -r testdata/demo.pcapng

bench:
	scripts/bench.sh

# Regenerate the eBPF bindings (needs clang: scripts/install-bpf-toolchain.sh),
# the shipped demo capture and the golden outputs.
generate:
	$(GO) generate ./bpf
	$(GO) run ./cmd/pcapgen -scenario demo -seed 1 -o testdata/demo.pcapng
	$(GO) test ./cmd/sensor -run Golden -update

fuzz:
	$(GO) test ./pkg/decode -run '^$$' -fuzz FuzzDecode -fuzztime 60s
	$(GO) test ./pkg/capture/pcapfile -run '^$$' -fuzz FuzzReader -fuzztime 60s
	$(GO) test ./pkg/capture/pcapfile -run '^$$' -fuzz FuzzFileBatches -fuzztime 60s
	$(GO) test ./pkg/report -run '^$$' -fuzz FuzzReport -fuzztime 60s
	$(GO) test ./pkg/engine -run '^$$' -fuzz FuzzLoadState -fuzztime 60s
	$(GO) test ./pkg/growth -run '^$$' -fuzz FuzzUnmarshalState -fuzztime 60s

check:
	CI=true bash .ci/run

clean:
	rm -rf bin
