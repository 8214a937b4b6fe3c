# shim.mk: builds libseqtorch.so from this directory's sources against the libtorch that
# find-libtorch.sh recorded in $(BUILD)/libtorch.mk. Run from the directory that holds torch/csrc
# (the checkout, or the copy `seqtorch setup` unpacks from the Go module): the top-level
# Makefile's `make libtorch` and torch.Setup both call it.
BUILD ?= build
CSRC ?= torch/csrc
include $(BUILD)/libtorch.mk

CXX ?= g++
SRC := $(wildcard $(CSRC)/*.cpp)
HDR := $(wildcard $(CSRC)/*.h)
OBJ := $(patsubst $(CSRC)/%.cpp,$(BUILD)/obj/%.o,$(SRC))
DEFS := -D_GLIBCXX_USE_CXX11_ABI=$(TORCH_ABI)
ifeq ($(TORCH_CUDA),1)
DEFS += -DST_WITH_CUDA=1
endif
CXXFLAGS := -std=c++17 -O2 -fPIC -fvisibility=hidden -Wall -Wno-unused-parameter $(DEFS) -I$(BUILD)/gen $(TORCH_INCLUDES)
LIBS := -L$(TORCH_LIBDIR) -Wl,-rpath,$(TORCH_LIBDIR) $(TORCH_CUDA_LIBS) -ltorch -ltorch_cpu -lc10

# The sources' identity, as package torch computes it from its embedded copy (load.go): sha256
# over the output of sha256sum for every *.h and *.cpp here, in name order.
SOURCE_HASH := $(shell cd $(CSRC) && LC_ALL=C sha256sum $(sort $(notdir $(SRC) $(HDR))) | sha256sum | cut -d' ' -f1)

all: $(BUILD)/lib/libseqtorch.so $(BUILD)/bin/st-info

# st_build.h changes only when the sources or the libtorch source text do, so abi.o (and with it
# the library) relinks exactly then.
$(BUILD)/gen/st_build.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define ST_SOURCE_HASH "%s"\n#define ST_TORCH_SOURCE "%s"\n' '$(SOURCE_HASH)' '$(subst ",\",$(TORCH_SOURCE))' >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
FORCE:

# The fused LSTM and GRU gate loops are written to vectorize: -O3, and -fno-trapping-math so that
# GCC may evaluate both sides of a select (no code here reads floating-point exception flags).
$(BUILD)/obj/rnn_cpu.o: CXXFLAGS += -O3 -fno-trapping-math
$(BUILD)/obj/abi.o: $(BUILD)/gen/st_build.h

# torch.distributed: c10d's flags and headers, and (searched last) the stand-in for a header of
# c10d/reducer.hpp that Debian's libtorch 1.13 does not ship; see dist_autograd_context.h.
DIST_COMPAT := $(BUILD)/gen/compat/torch/csrc/distributed/autograd/context/context.h
$(BUILD)/obj/dist.o: CXXFLAGS += $(TORCH_DIST_FLAGS) -idirafter $(BUILD)/gen/compat
$(BUILD)/obj/dist.o: $(DIST_COMPAT)
$(DIST_COMPAT): $(CSRC)/dist_autograd_context.h
	@mkdir -p $(dir $@)
	@cp $< $@.$$$$.tmp && mv $@.$$$$.tmp $@

$(BUILD)/obj/%.o: $(CSRC)/%.cpp $(HDR) $(BUILD)/libtorch.mk
	@mkdir -p $(dir $@)
	@echo "  CXX $<"
	@$(CXX) $(CXXFLAGS) -c $< -o $@.$$$$.tmp && mv $@.$$$$.tmp $@

# V=1 prints the link command (make compat shows the CUDA build's). Outputs go to a temporary
# name first: two makes running at once in one build folder never see each other's half files.
$(BUILD)/lib/libseqtorch.so: $(OBJ)
	@mkdir -p $(dir $@)
	@$(if $(V),echo "$(CXX) -shared -o $@ $(OBJ) $(LIBS)";)$(CXX) -shared -o $@.$$$$.tmp $(OBJ) $(LIBS) && mv $@.$$$$.tmp $@

$(BUILD)/bin/st-info: $(CSRC)/info/st-info.c $(BUILD)/lib/libseqtorch.so
	@mkdir -p $(dir $@)
	@$(CC) -O2 -I$(CSRC) -o $@ $< -L$(BUILD)/lib -lseqtorch -Wl,-rpath,$(abspath $(BUILD)/lib)

.PHONY: all FORCE
