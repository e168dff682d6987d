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

# Every parser of bytes from outside, 60 s each (minimizing a find at most
# 5 s: the default minute looked like a stall on the slower targets).
FUZZ = $(GO) test -run '^$$' -fuzztime 60s -fuzzminimizetime 5s
fuzz:
	$(FUZZ) ./pkg/decode -fuzz FuzzDecode
	$(FUZZ) ./pkg/decode -fuzz FuzzRecord
	$(FUZZ) ./pkg/capture/bpfcap -fuzz FuzzPrograms
	$(FUZZ) ./pkg/capture/pcapfile -fuzz FuzzReader
	$(FUZZ) ./pkg/capture/pcapfile -fuzz FuzzFileBatches
	$(FUZZ) ./pkg/capture/pcapfile -fuzz FuzzScout
	$(FUZZ) ./pkg/report -fuzz FuzzReport
	$(FUZZ) ./pkg/report -fuzz FuzzSourceFastPath
	$(FUZZ) ./pkg/engine -fuzz FuzzLoadState
	$(FUZZ) ./pkg/growth -fuzz FuzzUnmarshalState
	$(FUZZ) ./pkg/fleet -fuzz FuzzParse
	$(FUZZ) ./pkg/fleet -fuzz FuzzSnapshot
	$(FUZZ) ./pkg/fleet -fuzz FuzzPartials
	$(FUZZ) ./pkg/benign -fuzz FuzzLoad
	$(FUZZ) ./pkg/networks -fuzz FuzzOpen
	$(FUZZ) ./pkg/ranges -fuzz FuzzAgreesWithTheMostSpecific
	$(FUZZ) ./pkg/ports -fuzz FuzzParse
	$(FUZZ) ./pkg/config -fuzz FuzzConfigFile
	$(FUZZ) ./pkg/kafka -fuzz FuzzSpoolReopen

check:
	CI=true bash .ci/run

clean:
	rm -rf bin
