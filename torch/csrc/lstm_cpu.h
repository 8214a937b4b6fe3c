// lstm_cpu.h: seqtorch's fused LSTM for CPU tensors (lstm_cpu.cpp), used by shim.cpp in place
// of at::lstm when lstm_fusable says it applies. Internal to the shim: not part of the C ABI.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

namespace st {

// lstm_fusable reports whether the fused kernel runs these arguments: every tensor on the CPU,
// float32 or float64 alike, shapes those of torch.nn.LSTM without proj_size. When it returns
// false the caller runs at::lstm, whose error messages name whatever is wrong.
bool lstm_fusable(const at::Tensor &x, int64_t batch, at::TensorList hx, at::TensorList params,
                  bool has_biases, int64_t layers, bool bidirectional);

// packed_steps_valid reports whether batch_sizes describes data as a PackedSequence does: a
// non-empty 1-D int64 CPU tensor of positive, non-increasing sizes summing to data's rows.
bool packed_steps_valid(const at::Tensor &data, const at::Tensor &batch_sizes);

// lstm_fused_packed is at::lstm over packed data (PackedSequence.data, batch_sizes): it returns
// the packed output, h_n and c_n, with autograd support.
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_fused_packed(const at::Tensor &data,
                                                                 const at::Tensor &batch_sizes,
                                                                 at::TensorList hx, at::TensorList params,
                                                                 bool has_biases, int64_t layers,
                                                                 double dropout, bool train,
                                                                 bool bidirectional);

// lstm_fused is at::lstm over a padded (seq, batch, feature) input, or (batch, seq, feature)
// when batch_first.
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_fused(const at::Tensor &input, at::TensorList hx,
                                                          at::TensorList params, bool has_biases,
                                                          int64_t layers, double dropout, bool train,
                                                          bool bidirectional, bool batch_first);

}  // namespace st
