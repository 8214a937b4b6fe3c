// rnn_cpu.cpp: seqtorch's fused LSTM and GRU for CPU tensors.
//
// libtorch runs an LSTM on the CPU as about a dozen dispatched ops per time step, and its
// backward as some twenty autograd nodes per step (a GRU a few less); with the small hidden
// sizes of text models that per-op overhead, not arithmetic, is most of the time. These kernels
// compute torch.nn.LSTM's and torch.nn.GRU's equations
//
//	LSTM: i = σ(x_i + h_i)  f = σ(x_f + h_f)  g = tanh(x_g + h_g)  o = σ(x_o + h_o)
//	      c' = f ⊙ c + i ⊙ g    h' = o ⊙ tanh(c')
//	GRU:  r = σ(x_r + h_r)  z = σ(x_z + h_z)  n = tanh(x_n + r ⊙ h_n)
//	      h' = (h − n) ⊙ z + n
//
// (x_k = W_ik x + b_ik, h_k = W_hk h + b_hk) with the input projections of all steps as one
// matrix product, one product per step for the recurrence, and the gate arithmetic of a step as
// one loop. The backward (a custom autograd Function) is one product and one loop per step, and
// the weight gradients one product each after the loop. Sums are formed in PyTorch's order;
// σ and tanh are our own branch-free float approximations, a few ulp from libtorch's, so the
// results agree with at::lstm and at::gru to float rounding rather than bit for bit.
//
// One layer routine serves packed data and padded input alike: a padded batch is packed data
// whose batch size is the same at every step. Rows of a step are the first batch_sizes[t]
// sequences; the reverse direction walks the steps backwards, and a sequence joining late
// starts from its rows of h0 (and c0), as in PyTorch.
#include "rnn_cpu.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <type_traits>
#include <vector>

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

constexpr int64_t gate_count(FusedCell cell) { return cell == FusedCell::LSTM ? 4 : 3; }

// What one step's gate loop reads and writes (G = gate_count · H). Row r of the step is row r
// of the state buffers h and c (B × H) and row r of the step's slices of the packed buffers.
template <class S>
struct StepIO {
  int64_t rows, H;
  const S *hw;   // rows × G: h·W_hhᵀ of this step
  const S *xp;   // rows × G: x·W_ihᵀ + b_ih of this step
  const S *bhh;  // G (zeros without biases)
  S *h, *c;      // B × H: the running state, rows [0, rows) updated (c: LSTM only)
  S *y;          // rows × H: this step's output
  S *act;        // rows × G: the gates after their nonlinearities (saved for backward)
  S *aux;        // rows × H: LSTM c before the step; GRU h_n = W_hn h + b_hn (saved)
  S *hprev;      // rows × H: h before the step (saved)
  S *tc;         // rows × H: LSTM tanh(c') (saved)
};

// ST_GATE_CLONES compiles a gate loop twice on x86-64 with GCC, for AVX2 and for the baseline
// (SSE2), the CPU picking one at load time: the loop then runs 8 floats wide instead of 4.
// (Not x86-64-v3 with FMA: GCC will not inline the baseline σ and tanh into another -march.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ST_GATE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ST_GATE_CLONES
#endif

// lstm_row is the LSTM's forward gate loop over one row of a step (see StepIO); the saved
// pointers are unused unless Save.
template <class S, bool Save>
ST_GATE_CLONES void lstm_row(int64_t H, const S *__restrict hw, const S *__restrict xp,
                             const S *__restrict bhh, S *__restrict h, S *__restrict c, S *__restrict y,
                             S *__restrict act, S *__restrict cprev, S *__restrict hprev, S *__restrict tc) {
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

// gru_row is the GRU's forward gate loop over one row of a step, in at::gru's order of
// operations: r and z from (h·W + b_hh) + x·W, n = tanh(x_n + h_n ⊙ r), h' = (h − n) ⊙ z + n.
template <class S, bool Save>
ST_GATE_CLONES void gru_row(int64_t H, const S *__restrict hw, const S *__restrict xp, const S *__restrict bhh,
                            S *__restrict h, S *__restrict y, S *__restrict act, S *__restrict hn_lin,
                            S *__restrict hprev) {
  for (int64_t j = 0; j < H; j++) {
    const S r = sigmoid((hw[j] + bhh[j]) + xp[j]);
    const S z = sigmoid((hw[H + j] + bhh[H + j]) + xp[H + j]);
    const S hl = hw[2 * H + j] + bhh[2 * H + j];
    const S n = tanh_(xp[2 * H + j] + hl * r);
    const S h0 = h[j];
    const S h1 = (h0 - n) * z + n;
    if (Save) {
      act[j] = r, act[H + j] = z, act[2 * H + j] = n;
      hn_lin[j] = hl, hprev[j] = h0;
    }
    h[j] = h1, y[j] = h1;
  }
}

template <FusedCell C, class S, bool Save>
void step_forward(const StepIO<S> &io) {
  const int64_t H = io.H, G = gate_count(C) * H;
  for (int64_t r = 0; r < io.rows; r++) {
    S *act = Save ? io.act + r * G : nullptr, *aux = Save ? io.aux + r * H : nullptr;
    S *hprev = Save ? io.hprev + r * H : nullptr;
    if constexpr (C == FusedCell::LSTM) {
      lstm_row<S, Save>(H, io.hw + r * G, io.xp + r * G, io.bhh, io.h + r * H, io.c + r * H, io.y + r * H, act, aux,
                        hprev, Save ? io.tc + r * H : nullptr);
    } else {
      gru_row<S, Save>(H, io.hw + r * G, io.xp + r * G, io.bhh, io.h + r * H, io.y + r * H, act, aux, hprev);
    }
  }
}

// What one step's backward loop reads and writes. dh and dc (B × H) hold, in rows [0, rows),
// the gradients flowing back from later steps (or from h_n, c_n). dgx receives the gradients of
// the step's input-side gate pre-activations, dgh those of its hidden-side ones (the same
// buffer for the LSTM; for the GRU they differ in the n gate).
template <class S>
struct BackIO {
  int64_t rows, H;
  const S *dy;  // rows × H: this step's output gradient (read only if HasDy)
  S *dh, *dc;
  const S *act, *aux, *hprev, *tc;  // as saved by the forward step
  S *dgx, *dgh;                     // rows × G
};

// lstm_back_row: dc becomes the gradient for c before the step; dh is left for the recurrent
// product (dh = dg·W_hh) that follows the loop.
template <class S, bool HasDy>
ST_GATE_CLONES void lstm_back_row(int64_t H, const S *__restrict dy, const S *__restrict dh, S *__restrict dc,
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

// gru_back_row: dh becomes its direct part, d ⊙ z, to which the recurrent product
// dgh·W_hh is added after the loop.
template <class S, bool HasDy>
ST_GATE_CLONES void gru_back_row(int64_t H, const S *__restrict dy, S *__restrict dh, const S *__restrict act,
                                 const S *__restrict hn_lin, const S *__restrict hprev, S *__restrict dgx,
                                 S *__restrict dgh) {
  for (int64_t j = 0; j < H; j++) {
    const S r = act[j], z = act[H + j], n = act[2 * H + j];
    const S d = HasDy ? dh[j] + dy[j] : dh[j];
    const S dan = d * (S(1) - z) * (S(1) - n * n);
    const S dar = dan * hn_lin[j] * r * (S(1) - r);
    const S daz = d * (hprev[j] - n) * z * (S(1) - z);
    dgx[j] = dar, dgx[H + j] = daz, dgx[2 * H + j] = dan;
    dgh[j] = dar, dgh[H + j] = daz, dgh[2 * H + j] = dan * r;
    dh[j] = d * z;
  }
}

template <FusedCell C, class S, bool HasDy>
void step_backward(const BackIO<S> &io) {
  const int64_t H = io.H, G = gate_count(C) * H;
  for (int64_t r = 0; r < io.rows; r++) {
    const S *dy = HasDy ? io.dy + r * H : nullptr;
    if constexpr (C == FusedCell::LSTM) {
      lstm_back_row<S, HasDy>(H, dy, io.dh + r * H, io.dc + r * H, io.act + r * G, io.aux + r * H, io.tc + r * H,
                              io.dgx + r * G);
    } else {
      gru_back_row<S, HasDy>(H, dy, io.dh + r * H, io.act + r * G, io.aux + r * H, io.hprev + r * H,
                             io.dgx + r * G, io.dgh + r * G);
    }
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
  at::Tensor y, hn, cn;            // outputs (cn: LSTM only)
  at::Tensor act, aux, hprev, tc;  // saved when training (see StepIO)
};

// kSplitFlops is the least multiply-adds of a product part worth a thread of its own: about
// 0.8 ms of single-threaded BLAS here. Smaller parts lost more than they gained in `make bench`
// at 2 threads (an SMS epoch, whose products are mostly 10–30M multiply-adds, took 0.80 s split
// against 0.70 s whole, while item (d)'s 115M products gain): waking the pool's thread, and
// libgomp's workers still spinning on the other core after libtorch's own parallel regions.
constexpr int64_t kSplitFlops = int64_t{1} << 25;

// run_parts calls f(0), ..., f(parts-1) at once: part 0 on the calling thread, the others on
// libtorch's inter-op thread pool (at::launch, which carries the caller's grad mode and other
// thread-local state), and returns when all are done, rethrowing the first error. The shim is
// compiled without OpenMP, so at::parallel_for would run serially here.
template <class F>
void run_parts(int64_t parts, const F &f) {
  std::vector<std::future<void>> others;
  for (int64_t p = 1; p < parts; p++) {
    auto task = std::make_shared<std::packaged_task<void()>>([&f, p] { f(p); });
    others.push_back(task->get_future());
    at::launch([task] { (*task)(); });
  }
  std::exception_ptr err;
  try {
    f(0);
  } catch (...) {
    err = std::current_exception();
  }
  for (auto &o : others) {  // every part reads the caller's tensors: wait for all of them
    try {
      o.get();
    } catch (...) {
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}

// rows_mm returns a·b, plus bias when it is defined, with the rows of a (and of the result)
// split between the intra-op threads (at::get_num_threads) when the product is large enough.
// Each part is its own BLAS call, which runs on one thread under OPENBLAS_NUM_THREADS=1, so the
// recurrent layers' large products use the threads that a single call would leave idle. BLAS
// may round the rows at a part's edge differently (float64 results differ in the last bit).
at::Tensor rows_mm(const at::Tensor &a, const at::Tensor &b, const at::Tensor &bias = at::Tensor()) {
  const int64_t M = a.size(0), per_row = std::max<int64_t>(1, a.size(1) * b.size(1));
  const int64_t parts = std::clamp<int64_t>(M * per_row / kSplitFlops, 1, at::get_num_threads());
  if (parts == 1) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  const int64_t chunk = (M + parts - 1) / parts;
  at::Tensor out = at::empty({M, b.size(1)}, a.options());
  run_parts(parts, [&](int64_t p) {
    at::NoGradGuard no_grad;  // out= products refuse inputs that require grad under grad mode
    const int64_t begin = std::min(M, p * chunk), n = std::min(M, begin + chunk) - begin;
    at::Tensor part = out.narrow(0, begin, n);
    const at::Tensor rows = a.narrow(0, begin, n);
    if (bias.defined()) {
      at::addmm_out(part, bias, rows, b);
    } else {
      at::mm_out(part, rows, b);
    }
  });
  return out;
}

template <FusedCell C, class S>
Layer layer_forward_typed(const at::Tensor &x, const at::Tensor &h0, const at::Tensor &c0,
                          const at::Tensor &w_ih, const at::Tensor &w_hh, const at::Tensor &b_ih,
                          const at::Tensor &b_hh, const Steps &steps, bool reverse, bool save) {
  constexpr bool lstm = C == FusedCell::LSTM;
  const int64_t H = w_hh.size(1), G = gate_count(C) * H, N = steps.total;
  const at::Tensor xp = rows_mm(x, w_ih.t(), b_ih);  // the input projections of all steps
  const at::Tensor w_hh_t = w_hh.t();
  Layer l;
  l.hn = h0.contiguous().clone();
  if (lstm) l.cn = c0.contiguous().clone();
  l.y = at::empty({N, H}, x.options());
  if (save) {
    l.act = at::empty({N, G}, x.options());
    l.aux = at::empty({N, H}, x.options());
    l.hprev = at::empty({N, H}, x.options());
    if (lstm) l.tc = at::empty({N, H}, x.options());
  }
  at::Tensor hw = at::empty({steps.batch, G}, x.options());
  const at::Tensor bhh = b_hh.defined() ? b_hh.contiguous() : at::zeros({G}, x.options());
  StepIO<S> io{};
  io.H = H;
  io.bhh = bhh.data_ptr<S>();
  io.h = l.hn.data_ptr<S>();
  io.c = lstm ? l.cn.data_ptr<S>() : nullptr;
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
      io.aux = l.aux.data_ptr<S>() + off * H;
      io.hprev = l.hprev.data_ptr<S>() + off * H;
      io.tc = lstm ? l.tc.data_ptr<S>() + off * H : nullptr;
      step_forward<C, S, true>(io);
    } else {
      step_forward<C, S, false>(io);
    }
  }
  return l;
}

// dispatch calls f(cell, scalar) with cell an std::integral_constant of the runtime cell and
// scalar a float or double value standing for x's dtype, so that one call site reaches the
// four instantiations of a typed routine.
template <FusedCell C>
using CellTag = std::integral_constant<FusedCell, C>;

template <class F>
decltype(auto) dispatch(FusedCell cell, const at::Tensor &x, F &&f) {
  const bool dbl = x.scalar_type() == at::kDouble;
  if (cell == FusedCell::LSTM) {
    return dbl ? f(CellTag<FusedCell::LSTM>{}, double{}) : f(CellTag<FusedCell::LSTM>{}, float{});
  }
  return dbl ? f(CellTag<FusedCell::GRU>{}, double{}) : f(CellTag<FusedCell::GRU>{}, float{});
}

Layer layer_forward(FusedCell cell, const at::Tensor &x, const at::Tensor &h0, const at::Tensor &c0,
                    const at::Tensor &w_ih, const at::Tensor &w_hh, const at::Tensor &b_ih, const at::Tensor &b_hh,
                    const Steps &steps, bool reverse, bool save) {
  return dispatch(cell, x, [&](auto c, auto scalar) {
    return layer_forward_typed<decltype(c)::value, decltype(scalar)>(x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps,
                                                                      reverse, save);
  });
}

// layer_backward_typed returns the gradients of x, h0, c0, w_ih, w_hh, b_ih, b_hh (undefined
// where not needed or, for the GRU, c0) from those of y, h_n and c_n (each possibly undefined).
template <FusedCell C, class S>
variable_list layer_backward_typed(const at::Tensor &x, const at::Tensor &w_ih, const at::Tensor &w_hh,
                                   const Layer &l, const Steps &steps, bool reverse, bool has_biases,
                                   bool need_x, const at::Tensor &gy_, const at::Tensor &ghn,
                                   const at::Tensor &gcn) {
  constexpr bool lstm = C == FusedCell::LSTM;
  const int64_t H = w_hh.size(1), G = gate_count(C) * H, B = steps.batch;
  at::Tensor dh = ghn.defined() ? ghn.contiguous().clone() : at::zeros({B, H}, x.options());
  at::Tensor dc;
  if (lstm) dc = gcn.defined() ? gcn.contiguous().clone() : at::zeros({B, H}, x.options());
  const at::Tensor gy = gy_.defined() ? gy_.contiguous() : gy_;
  at::Tensor dgx = at::empty({steps.total, G}, x.options());
  at::Tensor dgh = lstm ? dgx : at::empty({steps.total, G}, x.options());
  BackIO<S> io{};
  io.H = H;
  io.dh = dh.data_ptr<S>();
  io.dc = lstm ? dc.data_ptr<S>() : nullptr;
  for (int64_t k = steps.count() - 1; k >= 0; k--) {
    const int64_t t = steps.at(k, reverse), rows = steps.sizes[t], off = steps.offsets[t];
    io.rows = rows;
    io.act = l.act.data_ptr<S>() + off * G;
    io.aux = l.aux.data_ptr<S>() + off * H;
    io.hprev = l.hprev.data_ptr<S>() + off * H;
    io.tc = lstm ? l.tc.data_ptr<S>() + off * H : nullptr;
    io.dgx = dgx.data_ptr<S>() + off * G;
    io.dgh = dgh.data_ptr<S>() + off * G;
    if (gy.defined()) {
      io.dy = gy.data_ptr<S>() + off * H;
      step_backward<C, S, true>(io);
    } else {
      step_backward<C, S, false>(io);
    }
    at::Tensor dh_rows = dh.narrow(0, 0, rows);
    if (lstm) {
      at::mm_out(dh_rows, dgh.narrow(0, off, rows), w_hh);
    } else {
      dh_rows.addmm_(dgh.narrow(0, off, rows), w_hh);
    }
  }
  at::Tensor gb_ih = has_biases ? dgx.sum(0) : at::Tensor();
  at::Tensor gb_hh = !has_biases ? at::Tensor() : lstm ? gb_ih : dgh.sum(0);
  // Built in place: the same products held in named locals first cost 20,000 more page faults
  // in `make bench`'s item (d) (fresh pages for large buffers every step, 6% slower; measured
  // with perf stat, the allocator's reason not pinned down).
  return {need_x ? rows_mm(dgx, w_ih) : at::Tensor(), dh, dc, rows_mm(dgx.t(), x), at::mm(dgh.t(), l.hprev),
          gb_ih, gb_hh};
}

// RecurrentLayer is one layer and direction of either cell as an autograd Function. The GRU
// gets a placeholder c0 and returns a placeholder c_n, so both have the same signature.
struct RecurrentLayer : public torch::autograd::Function<RecurrentLayer> {
  static variable_list forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &h0,
                               const at::Tensor &c0, const at::Tensor &w_ih, const at::Tensor &w_hh,
                               const at::Tensor &b_ih, const at::Tensor &b_hh, std::vector<int64_t> sizes,
                               bool reverse, bool has_biases, bool lstm) {
    const Steps steps(sizes);
    const at::Tensor none;
    const at::Tensor &bi = has_biases ? b_ih : none, &bh = has_biases ? b_hh : none;
    const FusedCell cell = lstm ? FusedCell::LSTM : FusedCell::GRU;
    Layer l = layer_forward(cell, x, h0, c0, w_ih, w_hh, bi, bh, steps, reverse, true);
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({x, w_ih, w_hh, l.act, l.aux, l.hprev, l.tc});
    ctx->saved_data["sizes"] = c10::IValue(std::move(sizes));
    ctx->saved_data["reverse"] = reverse;
    ctx->saved_data["biases"] = has_biases;
    ctx->saved_data["lstm"] = lstm;
    return {l.y, l.hn, lstm ? l.cn : at::zeros({0}, x.options())};
  }

  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    Layer l;
    l.act = saved[3], l.aux = saved[4], l.hprev = saved[5], l.tc = saved[6];
    const Steps steps(ctx->saved_data["sizes"].toIntVector());
    const bool reverse = ctx->saved_data["reverse"].toBool();
    const bool biases = ctx->saved_data["biases"].toBool();
    const bool lstm = ctx->saved_data["lstm"].toBool();
    const bool need_x = ctx->needs_input_grad(0);
    const at::Tensor &x = saved[0], &w_ih = saved[1], &w_hh = saved[2];
    variable_list g = dispatch(lstm ? FusedCell::LSTM : FusedCell::GRU, x, [&](auto c, auto scalar) {
      return layer_backward_typed<decltype(c)::value, decltype(scalar)>(x, w_ih, w_hh, l, steps, reverse, biases,
                                                                       need_x, grads[0], grads[1], grads[2]);
    });
    g.resize(11);  // sizes, reverse, has_biases, lstm: no gradients
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

// run_layer returns y, h_n and c_n (LSTM) of one layer and direction, through autograd when
// needed.
std::tuple<at::Tensor, at::Tensor, at::Tensor> run_layer(FusedCell cell, const at::Tensor &x, const at::Tensor &h0,
                                                         const at::Tensor &c0, const at::Tensor &w_ih,
                                                         const at::Tensor &w_hh, const at::Tensor &b_ih,
                                                         const at::Tensor &b_hh, const Steps &steps,
                                                         bool reverse) {
  const bool lstm = cell == FusedCell::LSTM;
  if (needs_graph({&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh})) {
    // Function::apply wants defined tensors: missing biases and the GRU's c0 get placeholders.
    const bool has_biases = b_ih.defined();
    const at::Tensor placeholder = at::zeros({0}, x.options());
    auto r = RecurrentLayer::apply(x, h0, lstm ? c0 : placeholder, w_ih, w_hh, has_biases ? b_ih : placeholder,
                                   has_biases ? b_hh : placeholder, steps.sizes, reverse, has_biases, lstm);
    return {r[0], r[1], lstm ? r[2] : at::Tensor()};
  }
  Layer l = layer_forward(cell, x, h0, c0, w_ih, w_hh, b_ih, b_hh, steps, reverse, false);
  return {l.y, l.hn, l.cn};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run_stack(FusedCell cell, const at::Tensor &data,
                                                         const Steps &steps, at::TensorList hx,
                                                         at::TensorList params, bool has_biases, int64_t layers,
                                                         double dropout, bool train, bool bidirectional) {
  const bool lstm = cell == FusedCell::LSTM;
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
      const at::Tensor c0 = lstm ? hx[1][idx] : none;
      auto r = run_layer(cell, input, hx[0][idx], c0, params[idx * per], params[idx * per + 1], b_ih, b_hh, steps,
                         d == 1);
      outs.push_back(std::get<0>(r));
      hs.push_back(std::get<1>(r));
      if (lstm) cs.push_back(std::get<2>(r));
    }
    input = dirs == 2 ? at::cat(outs, 1) : outs[0];
    if (dropout != 0 && train && layer < layers - 1) input = at::dropout(input, dropout, train);
  }
  return {input, at::stack(hs, 0), lstm ? at::stack(cs, 0) : at::Tensor()};
}

}  // namespace

bool rnn_fusable(FusedCell cell, const at::Tensor &x, int64_t batch, at::TensorList hx, at::TensorList params,
                 bool has_biases, int64_t layers, bool bidirectional) {
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble) || x.is_sparse()) return false;
  if (x.dim() < 2 || x.size(0) == 0 || batch < 1) return false;
  const int64_t dirs = bidirectional ? 2 : 1, per = has_biases ? 4 : 2;
  const size_t states = cell == FusedCell::LSTM ? 2 : 1;
  const int64_t G = gate_count(cell);
  if (layers < 1 || hx.size() != states || static_cast<int64_t>(params.size()) != layers * dirs * per) return false;
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
      if (!params[base].sizes().equals({G * H, in}) || !params[base + 1].sizes().equals({G * H, H})) return false;
      if (has_biases && (!params[base + 2].sizes().equals({G * H}) || !params[base + 3].sizes().equals({G * H}))) {
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

std::tuple<at::Tensor, at::Tensor, at::Tensor> rnn_fused_packed(FusedCell cell, const at::Tensor &data,
                                                                 const at::Tensor &batch_sizes,
                                                                 at::TensorList hx, at::TensorList params,
                                                                 bool has_biases, int64_t layers,
                                                                 double dropout, bool train,
                                                                 bool bidirectional) {
  const at::Tensor bs = batch_sizes.contiguous();
  const int64_t *p = bs.data_ptr<int64_t>();
  const Steps steps(std::vector<int64_t>(p, p + bs.numel()));
  return run_stack(cell, data.contiguous(), steps, hx, params, has_biases, layers, dropout, train, bidirectional);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> rnn_fused(FusedCell cell, const at::Tensor &input, at::TensorList hx,
                                                          at::TensorList params, bool has_biases,
                                                          int64_t layers, double dropout, bool train,
                                                          bool bidirectional, bool batch_first) {
  const at::Tensor x = batch_first ? input.transpose(0, 1) : input;
  const int64_t T = x.size(0), B = x.size(1);
  const Steps steps(std::vector<int64_t>(static_cast<size_t>(T), B));
  auto r = run_stack(cell, x.contiguous().view({T * B, x.size(2)}), steps, hx, params, has_biases, layers, dropout, train,
                 bidirectional);
  at::Tensor out = std::get<0>(r).view({T, B, -1});
  if (batch_first) out = out.transpose(0, 1);
  return {out, std::get<1>(r), std::get<2>(r)};
}

}  // namespace st
