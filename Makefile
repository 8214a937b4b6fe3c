# seqtorch — see README.md. `make libtorch` once, then `make test`.
SHELL := /bin/bash
BUILD ?= build
# parallel compiler processes for the shim (each takes up to ~1.5 GB)
JOBS ?= 2
GO ?= go
PYTHON ?= $(if $(TORCH_PYTHON),$(TORCH_PYTHON),/usr/bin/python3)
export OPENBLAS_NUM_THREADS ?= 1
export SEQTORCH_MIRROR ?= $(abspath ../shared/data)
export SEQTORCH_PYTHON ?= $(PYTHON)

.PHONY: libtorch test gotest parity vet wordnet data bench clean compat

libtorch:
	@bash torch/csrc/find-libtorch.sh $(BUILD)/libtorch.mk
	@$(MAKE) -s --no-print-directory -j$(JOBS) -f torch/csrc/shim.mk BUILD=$(BUILD)
	@$(BUILD)/bin/st-info "$$(sed -n 's/^TORCH_SOURCE := //p' $(BUILD)/libtorch.mk)"

$(BUILD)/lib/libseqtorch.so:
	@echo "the shim is not built: run 'make libtorch' first" >&2; exit 1

# WordNet 3.0 for synonym augmentation (Debian's wordnet-base).
wordnet:
	@if [ ! -f /usr/share/wordnet/data.noun ]; then \
	  echo "installing Debian package wordnet-base" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null; fi

vet:
	@test -z "$$(gofmt -l torch models train data scripts 2>/dev/null)" || { gofmt -l torch models train data scripts; echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...

gotest: $(BUILD)/lib/libseqtorch.so wordnet
	$(GO) test ./...

# The parity suite against PyTorch (CPU, same libtorch): one row per case and a final count.
parity: $(BUILD)/lib/libseqtorch.so
	$(GO) run ./scripts/parity

test: vet gotest parity

data:
	$(GO) run ./data/cmd/fetch all

bench: $(BUILD)/lib/libseqtorch.so
	$(GO) run ./scripts/bench

clean:
	rm -rf $(BUILD)

# libtorch 2.6 (Debian 13 in a debootstrap chroot): make libtorch && make test inside, and the
# shim compiled and linked against Debian 13's CUDA build. Needs root; see scripts/compat.sh.
compat:
	@bash scripts/compat.sh
