// lstm_cpu.cpp: seqtorch's fused LSTM for CPU tensors.
//
// libtorch runs an LSTM on the CPU as about a dozen dispatched ops per time step, and its
// backward as some twenty autograd nodes per step; with the small hidden sizes of text models
// that per-op overhead, not arithmetic, is most of the time. This kernel computes torch.nn.LSTM's
// equations
//
//	i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
//	g = tanh(W_ig x + b_ig + W_hg h + b_hg) o = σ(W_io x + b_io + W_ho h + b_ho)
//	c' = f ⊙ c + i ⊙ g                      h' = o ⊙ tanh(c')
//
// with the input projections of all steps as one matrix product, one product per step for the
// recurrence, and the gate arithmetic of a step as one loop. Its backward (a custom autograd
// Function) is one product and one loop per step, and the weight gradients one product each
// after the loop. Sums are formed in PyTorch's order, (h·W_hhᵀ + b_hh) + (x·W_ihᵀ + b_ih);
// σ and tanh are our own branch-free float approximations, a few ulp from libtorch's, so the
// results agree with at::lstm to float rounding rather than bit for bit.
//
// One layer routine serves packed data and padded input alike: a padded batch is packed data
// whose batch size is the same at every step. Rows of a step are the first batch_sizes[t]
// sequences; the reverse direction walks the steps backwards, and a sequence joining late
// starts from its rows of h0 and c0, as in PyTorch.
#include "lstm_cpu.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace st {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// vexp is expf without branches, so that loops calling it vectorize: Cody-Waite reduction by
// ln 2, a degree-6 polynomial (Cephes' expf coefficients), and 2^n put in the exponent bits.
// Relative error about 2e-7 over the clamped range.
inline float vexp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// tanh from exp(-2|x|), and its Taylor series near 0 where 1 - e would cancel.
inline float tanh_(float x) {
  const float a = std::fabs(x);
  const float e = vexp(-2.0f * a);
  const float t = (1.0f - e) / (1.0f + e);
  const float x2 = x * x;
  const float series = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.053968254f)));
  return a < 0.125f ? series : (x < 0.0f ? -t : t);
}
inline double tanh_(double x) { return std::tanh(x); }

// What one step's gate loop reads and writes. Row r of the step is row r of the state buffers
// h and c (B × H) and row r of the step's slices of the packed buffers.
template <class S>
struct StepIO {
  int64_t rows, H;
  const S *hw;   // rows × 4H: h·W_hhᵀ of this step
  const S *xp;   // rows × 4H: x·W_ihᵀ + b_ih of this step
  const S *bhh;  // 4H (zeros without biases)
  S *h, *c;      // B × H: the running state, rows [0, rows) updated
  S *y;          // rows × H: this step's output
  S *act;        // rows × 4H: i, f, g, o after their nonlinearities (saved for backward)
  S *cprev;      // rows × H: c before the step (saved)
  S *hprev;      // rows × H: h before the step (saved)
  S *tc;         // rows × H: tanh(c') (saved)
};

// gates_row is the forward gate loop over one row of a step (see StepIO); the saved pointers
// are unused unless Save.
template <class S, bool Save>
void gates_row(int64_t H, const S *__restrict hw, const S *__restrict xp, const S *__restrict bhh,
               S *__restrict h, S *__restrict c, S *__restrict y, S *__restrict act, S *__restrict cprev,
               S *__restrict hprev, S *__restrict tc) {
  for (int64_t j = 0; j < H; j++) {
    const S i = sigmoid((hw[j] + bhh[j]) + xp[j]);
    const S f = sigmoid((hw[H + j] + bhh[H + j]) + xp[H + j]);
    const S g = tanh_((hw[2 * H + j] + bhh[2 * H + j]) + xp[2 * H + j]);
    const S o = sigmoid((hw[3 * H + j] + bhh[3 * H + j]) + xp[3 * H + j]);
    const S c0 = c[j];
    const S c1 = f * c0 + i * g;
    const S t = tanh_(c1);
    const S h1 = o * t;
    if (Save) {
      act[j] = i, act[H + j] = f, act[2 * H + j] = g, act[3 * H + j] = o;
      cprev[j] = c0, hprev[j] = h[j], tc[j] = t;
    }
    c[j] = c1, h[j] = h1, y[j] = h1;
  }
}

template <class S, bool Save>
void gates_forward(const StepIO<S> &io) {
  const int64_t H = io.H, G = 4 * H;
  for (int64_t r = 0; r < io.rows; r++) {
    gates_row<S, Save>(H, io.hw + r * G, io.xp + r * G, io.bhh, io.h + r * H, io.c + r * H, io.y + r * H,
                       Save ? io.act + r * G : nullptr, Save ? io.cprev + r * H : nullptr,
                       Save ? io.hprev + r * H : nullptr, Save ? io.tc + r * H : nullptr);
  }
}

// gates_backward_row turns the gradients reaching one row of a step into the gradients of its
// gate pre-activations dg (4H). dh and dc hold the gradients flowing back from later steps (or
// from h_n, c_n); dc is replaced by the gradient for c before the step. dy, this step's output
// gradient, is read only if HasDy.
template <class S, bool HasDy>
void gates_backward_row(int64_t H, const S *__restrict dy, const S *__restrict dh, S *__restrict dc,
                        const S *__restrict act, const S *__restrict cprev, const S *__restrict tc,
                        S *__restrict dg) {
  for (int64_t j = 0; j < H; j++) {
    const S i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j], t = tc[j];
    const S d = HasDy ? dh[j] + dy[j] : dh[j];
    const S dct = dc[j] + d * o * (S(1) - t * t);
    dg[j] = dct * g * i * (S(1) - i);
    dg[H + j] = dct * cprev[j] * f * (S(1) - f);
    dg[2 * H + j] = dct * i * (S(1) - g * g);
    dg[3 * H + j] = d * t * o * (S(1) - o);
    dc[j] = dct * f;
  }
}

// gates_backward runs gates_backward_row over rows [0, rows) of a step.
template <class S, bool HasDy>
void gates_backward(int64_t rows, int64_t H, const S *dy, const S *dh, S *dc, const S *act, const S *cprev,
                    const S *tc, S *dg) {
  const int64_t G = 4 * H;
  for (int64_t r = 0; r < rows; r++) {
    gates_backward_row<S, HasDy>(H, HasDy ? dy + r * H : nullptr, dh + r * H, dc + r * H, act + r * G,
                                 cprev + r * H, tc + r * H, dg + r * G);
  }
}

// Steps is the walk over packed data: batch sizes, the offset of each step's rows, and the
// order in which a direction visits the steps.
struct Steps {
  std::vector<int64_t> sizes, offsets;
  int64_t batch = 0, total = 0;

  explicit Steps(std::vector<int64_t> bs) : sizes(std::move(bs)) {
    offsets.reserve(sizes.size());
    for (int64_t b : sizes) {
      offsets.push_back(total);
      total += b;
    }
    batch = sizes.empty() ? 0 : sizes[0];
  }
  int64_t count() const { return static_cast<int64_t>(sizes.size()); }
  // at returns the k-th step visited: forward walks 0..T-1, reverse T-1..0.
  int64_t at(int64_t k, bool reverse) const { return reverse ? count() - 1 - k : k; }
};

// Layer holds one layer and direction's forward results, and what backward needs.
struct Layer {
  at::Tensor y, hn, cn;                // outputs
  at::Tensor act, cprev, hprev, tc;    // saved when training
};

template <class S>
Layer layer_forward_typed(const at::Tensor &x, const at::Tensor &h0, const at::Tensor &c0,
                          const at::Tensor &w_ih, const at::Tensor &w_hh, const at::Tensor &b_ih,
                          const at::Tensor &b_hh, const Steps &steps, bool reverse, bool save) {
  const int64_t H = w_hh.size(1), G = 4 * H, N = steps.total;
  const at::Tensor xp = b_ih.defined() ? at::addmm(b_ih, x, w_ih.t()) : at::mm(x, w_ih.t());
  const at::Tensor w_hh_t = w_hh.t();
  Layer l;
  l.hn = h0.contiguous().clone();
  l.cn = c0.contiguous().clone();
  l.y = at::empty({N, H}, x.options());
  if (save) {
    l.act = at::empty({N, G}, x.options());
    l.cprev = at::empty({N, H}, x.options());
    l.hprev = at::empty({N, H}, x.options());
    l.tc = at::empty({N, H}, x.options());
  }
  at::Tensor hw = at::empty({steps.batch, G}, x.options());
  const at::Tensor bhh = b_hh.defined() ? b_hh.contiguous() : at::zeros({G}, x.options());
  StepIO<S> io{};
  io.H = H;
  io.bhh = bhh.data_ptr<S>();
  io.h = l.hn.data_ptr<S>();
  io.c = l.cn.data_ptr<S>();
  for (int64_t k = 0; k < steps.count(); k++) {
    const int64_t t = steps.at(k, reverse), rows = steps.sizes[t], off = steps.offsets[t];
    at::Tensor out = hw.narrow(0, 0, rows);
    at::mm_out(out, l.hn.narrow(0, 0, rows), w_hh_t);
    io.rows = rows;
    io.hw = hw.data_ptr<S>();
    io.xp = xp.data_ptr<S>() + off * G;
    io.y = l.y.data_ptr<S>() + off * H;
    if (save) {
      io.act = l.act.data_ptr<S>() + off * G;
      io.cprev = l.cprev.data_ptr<S>() + off * H;
      io.hprev = l.hprev.data_ptr<S>() + off * H;
      io.tc = l.tc.data_ptr<S>() + off * H;
      gates_forward<S, true>(io);
    } else {
      gates_forward<S, false>(io);
    }
  }
  return l;
}

Layer layer_forward(const at::Tensor &x, const at::Tensor &h0, const at::Tensor &c0, const at::Tensor &w_ih,
                    const at::Tensor &w_hh, const at::Tensor &b_ih, const at::Tensor &b_hh, const Steps &steps,
                    bool reverse, bool save) {
  if (x.scalar_type() == at::kDouble) {
    return layer_forward_typed<double>(x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps, reverse, save);
  }
  return layer_forward_typed<float>(x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps, reverse, save);
}

// layer_backward returns the gradients of x, h0, c0, w_ih, w_hh, b_ih, b_hh (undefined where
// not needed) from those of y, h_n and c_n (each possibly undefined).
template <class S>
variable_list layer_backward_typed(const at::Tensor &x, const at::Tensor &w_ih, const at::Tensor &w_hh,
                                   const Layer &l, const Steps &steps, bool reverse, bool has_biases,
                                   bool need_x, const at::Tensor &gy_, const at::Tensor &ghn,
                                   const at::Tensor &gcn) {
  const int64_t H = w_hh.size(1), G = 4 * H, B = steps.batch;
  at::Tensor dh = ghn.defined() ? ghn.contiguous().clone() : at::zeros({B, H}, x.options());
  at::Tensor dc = gcn.defined() ? gcn.contiguous().clone() : at::zeros({B, H}, x.options());
  const at::Tensor gy = gy_.defined() ? gy_.contiguous() : gy_;
  at::Tensor dg = at::empty({steps.total, G}, x.options());
  for (int64_t k = steps.count() - 1; k >= 0; k--) {
    const int64_t t = steps.at(k, reverse), rows = steps.sizes[t], off = steps.offsets[t];
    S *dgt = dg.data_ptr<S>() + off * G;
    const S *act = l.act.data_ptr<S>() + off * G, *cprev = l.cprev.data_ptr<S>() + off * H;
    const S *tc = l.tc.data_ptr<S>() + off * H;
    if (gy.defined()) {
      gates_backward<S, true>(rows, H, gy.data_ptr<S>() + off * H, dh.data_ptr<S>(), dc.data_ptr<S>(), act, cprev,
                              tc, dgt);
    } else {
      gates_backward<S, false>(rows, H, nullptr, dh.data_ptr<S>(), dc.data_ptr<S>(), act, cprev, tc, dgt);
    }
    at::Tensor out = dh.narrow(0, 0, rows);
    at::mm_out(out, dg.narrow(0, off, rows), w_hh);
  }
  const at::Tensor dg_t = dg.t();
  at::Tensor gb = has_biases ? dg.sum(0) : at::Tensor();
  return {need_x ? at::mm(dg, w_ih) : at::Tensor(), dh, dc, at::mm(dg_t, x), at::mm(dg_t, l.hprev), gb, gb};
}

// LSTMLayer is one layer and direction as an autograd Function.
struct LSTMLayer : public torch::autograd::Function<LSTMLayer> {
  static variable_list forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &h0,
                               const at::Tensor &c0, const at::Tensor &w_ih, const at::Tensor &w_hh,
                               const at::Tensor &b_ih, const at::Tensor &b_hh, std::vector<int64_t> sizes,
                               bool reverse, bool has_biases) {
    const Steps steps(sizes);
    const at::Tensor none;
    Layer l = layer_forward(x, h0, c0, w_ih, w_hh, has_biases ? b_ih : none, has_biases ? b_hh : none, steps,
                            reverse, true);
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({x, w_ih, w_hh, l.act, l.cprev, l.hprev, l.tc});
    ctx->saved_data["sizes"] = c10::IValue(std::move(sizes));
    ctx->saved_data["reverse"] = reverse;
    ctx->saved_data["biases"] = has_biases;
    return {l.y, l.hn, l.cn};
  }

  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    Layer l;
    l.act = saved[3], l.cprev = saved[4], l.hprev = saved[5], l.tc = saved[6];
    const Steps steps(ctx->saved_data["sizes"].toIntVector());
    const bool reverse = ctx->saved_data["reverse"].toBool();
    const bool biases = ctx->saved_data["biases"].toBool();
    const bool need_x = ctx->needs_input_grad(0);
    variable_list g = saved[0].scalar_type() == at::kDouble
                          ? layer_backward_typed<double>(saved[0], saved[1], saved[2], l, steps, reverse,
                                                         biases, need_x, grads[0], grads[1], grads[2])
                          : layer_backward_typed<float>(saved[0], saved[1], saved[2], l, steps, reverse,
                                                        biases, need_x, grads[0], grads[1], grads[2]);
    g.push_back(at::Tensor());  // sizes
    g.push_back(at::Tensor());  // reverse
    g.push_back(at::Tensor());  // has_biases
    return g;
  }
};

bool needs_graph(std::initializer_list<const at::Tensor *> ts) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor *t : ts) {
    if (t->defined() && t->requires_grad()) return true;
  }
  return false;
}

// run_layer returns y, h_n, c_n of one layer and direction, through autograd when needed.
std::tuple<at::Tensor, at::Tensor, at::Tensor> run_layer(const at::Tensor &x, const at::Tensor &h0,
                                                         const at::Tensor &c0, const at::Tensor &w_ih,
                                                         const at::Tensor &w_hh, const at::Tensor &b_ih,
                                                         const at::Tensor &b_hh, const Steps &steps,
                                                         bool reverse) {
  if (needs_graph({&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh})) {
    // Function::apply wants defined tensors: without biases it gets (unused) placeholders.
    const bool has_biases = b_ih.defined();
    const at::Tensor placeholder = has_biases ? at::Tensor() : at::zeros({0}, x.options());
    auto r = LSTMLayer::apply(x, h0, c0, w_ih, w_hh, has_biases ? b_ih : placeholder,
                              has_biases ? b_hh : placeholder, steps.sizes, reverse, has_biases);
    return {r[0], r[1], r[2]};
  }
  Layer l = layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps, reverse, false);
  return {l.y, l.hn, l.cn};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run_stack(const at::Tensor &data, const Steps &steps,
                                                     at::TensorList hx, at::TensorList params,
                                                     bool has_biases, int64_t layers, double dropout,
                                                     bool train, bool bidirectional) {
  const int64_t dirs = bidirectional ? 2 : 1, per = has_biases ? 4 : 2;
  std::vector<at::Tensor> hs, cs, outs;
  at::Tensor input = data;
  for (int64_t layer = 0; layer < layers; layer++) {
    outs.clear();
    for (int64_t d = 0; d < dirs; d++) {
      const int64_t idx = layer * dirs + d;
      const at::Tensor none;
      const at::Tensor &b_ih = has_biases ? params[idx * per + 2] : none;
      const at::Tensor &b_hh = has_biases ? params[idx * per + 3] : none;
      auto r = run_layer(input, hx[0][idx], hx[1][idx], params[idx * per], params[idx * per + 1], b_ih, b_hh,
                         steps, d == 1);
      outs.push_back(std::get<0>(r));
      hs.push_back(std::get<1>(r));
      cs.push_back(std::get<2>(r));
    }
    input = dirs == 2 ? at::cat(outs, 1) : outs[0];
    if (dropout != 0 && train && layer < layers - 1) input = at::dropout(input, dropout, train);
  }
  return {input, at::stack(hs, 0), at::stack(cs, 0)};
}

}  // namespace

bool lstm_fusable(const at::Tensor &x, int64_t batch, at::TensorList hx, at::TensorList params,
                  bool has_biases, int64_t layers, bool bidirectional) {
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble) || x.is_sparse()) return false;
  if (x.dim() < 2 || x.size(0) == 0 || batch < 1) return false;
  const int64_t dirs = bidirectional ? 2 : 1, per = has_biases ? 4 : 2;
  if (layers < 1 || hx.size() != 2 || static_cast<int64_t>(params.size()) != layers * dirs * per) return false;
  const int64_t H = params[1].dim() == 2 ? params[1].size(1) : -1;
  for (const auto &h : hx) {
    if (!h.device().is_cpu() || h.scalar_type() != dtype || !h.sizes().equals({layers * dirs, batch, H})) {
      return false;
    }
  }
  for (int64_t layer = 0; layer < layers; layer++) {
    const int64_t in = layer == 0 ? x.size(x.dim() - 1) : H * dirs;
    for (int64_t d = 0; d < dirs; d++) {
      const int64_t base = (layer * dirs + d) * per;
      for (int64_t k = 0; k < per; k++) {
        const at::Tensor &p = params[base + k];
        if (!p.device().is_cpu() || p.scalar_type() != dtype) return false;
      }
      if (!params[base].sizes().equals({4 * H, in}) || !params[base + 1].sizes().equals({4 * H, H})) return false;
      if (has_biases && (!params[base + 2].sizes().equals({4 * H}) || !params[base + 3].sizes().equals({4 * H}))) {
        return false;
      }
    }
  }
  return true;
}

bool packed_steps_valid(const at::Tensor &data, const at::Tensor &batch_sizes) {
  if (data.dim() != 2 || batch_sizes.dim() != 1 || batch_sizes.numel() == 0 || !batch_sizes.device().is_cpu() ||
      batch_sizes.scalar_type() != at::kLong) {
    return false;
  }
  const at::Tensor bs = batch_sizes.contiguous();
  const int64_t *p = bs.data_ptr<int64_t>();
  int64_t total = 0;
  for (int64_t k = 0; k < bs.numel(); k++) {
    if (p[k] < 1 || (k > 0 && p[k] > p[k - 1])) return false;
    total += p[k];
  }
  return total == data.size(0);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_fused_packed(const at::Tensor &data,
                                                                 const at::Tensor &batch_sizes,
                                                                 at::TensorList hx, at::TensorList params,
                                                                 bool has_biases, int64_t layers,
                                                                 double dropout, bool train,
                                                                 bool bidirectional) {
  const at::Tensor bs = batch_sizes.contiguous();
  const int64_t *p = bs.data_ptr<int64_t>();
  const Steps steps(std::vector<int64_t>(p, p + bs.numel()));
  return run_stack(data.contiguous(), steps, hx, params, has_biases, layers, dropout, train, bidirectional);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_fused(const at::Tensor &input, at::TensorList hx,
                                                          at::TensorList params, bool has_biases,
                                                          int64_t layers, double dropout, bool train,
                                                          bool bidirectional, bool batch_first) {
  const at::Tensor x = batch_first ? input.transpose(0, 1) : input;
  const int64_t T = x.size(0), B = x.size(1);
  const Steps steps(std::vector<int64_t>(static_cast<size_t>(T), B));
  auto r = run_stack(x.contiguous().view({T * B, x.size(2)}), steps, hx, params, has_biases, layers, dropout, train,
                 bidirectional);
  at::Tensor out = std::get<0>(r).view({T, B, -1});
  if (batch_first) out = out.transpose(0, 1);
  return {out, std::get<1>(r), std::get<2>(r)};
}

}  // namespace st
