# shim.mk: builds build/lib/libseqtorch.so from torch/csrc against the libtorch that
# find-libtorch.sh recorded in $(BUILD)/libtorch.mk. Called by the top-level Makefile.
BUILD ?= build
include $(BUILD)/libtorch.mk

CXX ?= g++
SRC := $(wildcard torch/csrc/*.cpp)
OBJ := $(patsubst torch/csrc/%.cpp,$(BUILD)/obj/%.o,$(SRC))
DEFS := -D_GLIBCXX_USE_CXX11_ABI=$(TORCH_ABI)
ifeq ($(TORCH_CUDA),1)
DEFS += -DST_WITH_CUDA=1
endif
CXXFLAGS := -std=c++17 -O2 -fPIC -fvisibility=hidden -Wall -Wno-unused-parameter $(DEFS) $(TORCH_INCLUDES)
LIBS := -L$(TORCH_LIBDIR) -Wl,-rpath,$(TORCH_LIBDIR) $(TORCH_CUDA_LIBS) -ltorch -ltorch_cpu -lc10

all: $(BUILD)/lib/libseqtorch.so $(BUILD)/bin/st-info

# The fused LSTM and GRU gate loops are written to vectorize: -O3, and -fno-trapping-math so that
# GCC may evaluate both sides of a select (no code here reads floating-point exception flags).
$(BUILD)/obj/rnn_cpu.o: CXXFLAGS += -O3 -fno-trapping-math

$(BUILD)/obj/%.o: torch/csrc/%.cpp $(wildcard torch/csrc/*.h) $(BUILD)/libtorch.mk
	@mkdir -p $(dir $@)
	@echo "  CXX $<"
	@$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/lib/libseqtorch.so: $(OBJ)
	@mkdir -p $(dir $@)
	@$(CXX) -shared -o $@.tmp $(OBJ) $(LIBS) && mv $@.tmp $@

$(BUILD)/bin/st-info: torch/csrc/info/st-info.c $(BUILD)/lib/libseqtorch.so
	@mkdir -p $(dir $@)
	@$(CC) -O2 -Itorch/csrc -o $@ $< -L$(BUILD)/lib -lseqtorch -Wl,-rpath,$(abspath $(BUILD)/lib)
