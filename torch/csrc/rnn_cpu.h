// rnn_cpu.h: seqtorch's fused LSTM and GRU for CPU tensors (rnn_cpu.cpp), used by shim.cpp in
// place of at::lstm and at::gru when rnn_fusable says they apply. Internal to the shim: not part
// of the C ABI.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

namespace st {

// FusedCell is the recurrent cell of the fused kernels.
enum class FusedCell { LSTM, GRU };

// rnn_fusable reports whether the fused kernel runs these arguments: every tensor on the CPU,
// float32 or float64 alike, shapes those of torch.nn.LSTM (without proj_size) or torch.nn.GRU,
// hx holding h0 and c0 (LSTM) or h0 (GRU). When it returns false the caller runs libtorch's
// kernel, whose error messages name whatever is wrong.
bool rnn_fusable(FusedCell cell, const at::Tensor &x, int64_t batch, at::TensorList hx, at::TensorList params,
                 bool has_biases, int64_t layers, bool bidirectional);

// packed_steps_valid reports whether batch_sizes describes data as a PackedSequence does: a
// non-empty 1-D int64 CPU tensor of positive, non-increasing sizes summing to data's rows.
bool packed_steps_valid(const at::Tensor &data, const at::Tensor &batch_sizes);

// rnn_fused_packed is at::lstm / at::gru over packed data (PackedSequence.data, batch_sizes):
// it returns the packed output, h_n and c_n (undefined for the GRU), with autograd support.
std::tuple<at::Tensor, at::Tensor, at::Tensor> rnn_fused_packed(FusedCell cell, const at::Tensor &data,
                                                                const at::Tensor &batch_sizes, at::TensorList hx,
                                                                at::TensorList params, bool has_biases,
                                                                int64_t layers, double dropout, bool train,
                                                                bool bidirectional);

// rnn_fused is rnn_fused_packed over a padded (seq, batch, feature) input, or (batch, seq,
// feature) when batch_first.
std::tuple<at::Tensor, at::Tensor, at::Tensor> rnn_fused(FusedCell cell, const at::Tensor &input, at::TensorList hx,
                                                         at::TensorList params, bool has_biases, int64_t layers,
                                                         double dropout, bool train, bool bidirectional,
                                                         bool batch_first);

}  // namespace st
