// shim.cpp: the libtorch side of shim.h. Each function converts handles, calls one
// libtorch API, and turns any C++ exception into an error string (see guard).
#include "shim.h"

#include "handles.h"
#include "rnn_cpu.h"

#include <torch/torch.h>
#include <torch/cuda.h>
#include <torch/serialize.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <caffe2/serialize/inline_container.h>

#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace st;

// The enums of shim.h are libtorch's values: a libtorch that renumbered them fails to compile
// here instead of computing with the wrong dtype, device or reduction.
#define ST_SAME(ours, theirs) static_assert(static_cast<int>(ours) == static_cast<int>(theirs), #ours " != " #theirs)
ST_SAME(ST_UINT8, c10::ScalarType::Byte);
ST_SAME(ST_INT32, c10::ScalarType::Int);
ST_SAME(ST_INT64, c10::ScalarType::Long);
ST_SAME(ST_FLOAT16, c10::ScalarType::Half);
ST_SAME(ST_FLOAT32, c10::ScalarType::Float);
ST_SAME(ST_FLOAT64, c10::ScalarType::Double);
ST_SAME(ST_BOOL, c10::ScalarType::Bool);
ST_SAME(ST_CPU, c10::DeviceType::CPU);
ST_SAME(ST_CUDA, c10::DeviceType::CUDA);
ST_SAME(ST_REDUCTION_NONE, at::Reduction::None);
ST_SAME(ST_REDUCTION_MEAN, at::Reduction::Mean);
ST_SAME(ST_REDUCTION_SUM, at::Reduction::Sum);
#undef ST_SAME
// The recurrent cells have no libtorch number (PyTorch passes mode strings): the switches
// below name each one, and the values stay the four distinct codes Go sends.
static_assert(ST_RNN_TANH == 0 && ST_RNN_RELU == 1 && ST_LSTM == 2 && ST_GRU == 3, "st_rnn_mode renumbered");

namespace {

at::TensorOptions options(int dtype, int dev_type, int dev_index) {
  auto dev = dev_type == ST_CUDA ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(dev_index)) : at::Device(at::kCPU);
  return at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)).device(dev);
}

// blas_library names the loaded shared library that provides BLAS.
int find_blas(struct dl_phdr_info *info, size_t, void *data) {
  std::string name = info->dlpi_name ? info->dlpi_name : "";
  auto *found = static_cast<std::string *>(data);
  for (const char *key : {"openblas", "mkl_rt", "libmkl", "blis", "libblas", "atlas"}) {
    if (name.find(key) != std::string::npos && found->find("openblas") == std::string::npos) {
      *found = name;
      break;
    }
  }
  return 0;
}

// torch_save_bytes serializes d as Python's torch.save does (a zip archive: data.pkl, one
// data/N record per tensor storage, version), like torch::pickle_save but without TorchScript's
// type tags: pickle_save wraps the dict in torch.jit._pickle.restore_type_tag, which PyTorch >= 2.6
// refuses when it loads with its default weights_only=True. torch::pickle_load reads both.
std::vector<char> torch_save_bytes(const c10::Dict<std::string, at::Tensor> &d) {
  std::vector<char> pickled;
  torch::jit::Pickler pickler([&](const char *buf, size_t len) { pickled.insert(pickled.end(), buf, buf + len); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
                              /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(d);
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void *buf, size_t len) {
    const char *b = static_cast<const char *>(buf);
    out.insert(out.end(), b, b + len);
    return len;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

// physical_cores counts the distinct (package, core) pairs of the CPUs this process may run
// on, as PyTorch's default intra-op thread count (cpuinfo's core count) does; without sysfs
// topology, the CPUs themselves.
int physical_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
  std::set<std::pair<long, long>> cores;
  int cpus = 0;
  bool topology = true;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    cpus++;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(dir + "physical_package_id"), core(dir + "core_id");
    long p = 0, c = 0;
    if (!(pkg >> p) || !(core >> c)) topology = false;
    cores.insert({p, c});
  }
  const int n = topology ? static_cast<int>(cores.size()) : cpus;
  return std::max(1, n);
}

// arena_max is the malloc arena cap st_init sets (see there): one per CPU, at least two.
int arena_max() { return std::max(2, static_cast<int>(std::thread::hardware_concurrency())); }

// set_threads sets libtorch's intra-op threads to n and, when blas is set and the process has
// OpenBLAS, OpenBLAS's too (PyTorch's set_num_threads does this for MKL; OpenBLAS has no
// hook in libtorch).
void set_threads(int n, bool blas) {
  at::set_num_threads(n);
  if (!blas) return;
  using setter = void (*)(int);
  if (auto f = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

}  // namespace

extern "C" {

void st_free_err(st_err e) { std::free(e); }
void st_free(st_tensor t) { delete t; }
void st_free_many(const st_tensor *ts, int n) {
  for (int i = 0; i < n; i++) delete ts[i];
}

st_err st_init(void) {
  return guard([&] {
    // Threads as PyTorch sets them: libtorch's intra-op pool gets the physical cores, unless
    // OMP_NUM_THREADS or MKL_NUM_THREADS chose (libtorch reads them itself); Debian's libtorch
    // 1.13 otherwise starts at one thread here. OpenBLAS follows (set_threads), unless
    // OPENBLAS_NUM_THREADS chose.
    int n = at::get_num_threads();
    if (std::getenv("OMP_NUM_THREADS") == nullptr && std::getenv("MKL_NUM_THREADS") == nullptr) n = physical_cores();
    set_threads(n, std::getenv("OPENBLAS_NUM_THREADS") == nullptr);
    // glibc malloc, tuned for a Go program. A goroutine calls libtorch from whichever OS
    // thread it runs on at the moment, and glibc gives every thread that allocates an arena of
    // its own (up to 8 per core): one arena per core serves libtorch's threads without lock
    // contention and lets a step reuse what the previous one freed. And large tensors freed
    // out of order (by the garbage collector, or on another thread's arena) fragment the heap
    // under glibc's dynamic mmap threshold, which rises to 32 MiB once a mapped block is freed:
    // a fixed 4 MiB threshold gives them mappings of their own, returned to the system when
    // freed. Measured on the LSTM language-model benchmark (scripts/lmbench, no thread
    // pinning): with glibc's defaults the scoped loop's RSS rose to 1.1 GB within 750 steps
    // and the scope-less loop's peaked at 2.5x the scoped loop's; the torch package
    // documentation ("Memory without scopes") has the numbers with these settings. The
    // environment's MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ take precedence.
#ifdef __GLIBC__
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, arena_max());
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
    // oneDNN off: libtorch 2.x runs an LSTM's no-grad forward on the CPU through oneDNN
    // (mkldnn_rnn), and Debian 13's libtorch 2.6 (with oneDNN 3.7.2) gets it wrong — outputs off
    // by up to 0.3 from the LSTM equations, measured on AVX-512; with oneDNN off they agree to
    // 1e-8. seqtorch uses no other oneDNN kernel, and libtorch 1.13 has no oneDNN RNN path.
    at::globalContext().setUserEnabledMkldnn(false);
  });
}

st_err st_build_info(char **version, int *cuda_build, char **blas) {
  return guard([&] {
    std::string blasname;
    dl_iterate_phdr(find_blas, &blasname);
    if (blasname.empty()) blasname = "none found";
    *version = dup(TORCH_VERSION);
#ifdef ST_WITH_CUDA
    *cuda_build = 1;
#else
    *cuda_build = 0;
#endif
    *blas = dup(blasname);
  });
}

st_err st_manual_seed(uint64_t seed) { return guard([&] { torch::manual_seed(seed); }); }
st_err st_set_num_threads(int n) {
  return guard([&] { set_threads(n, std::getenv("OPENBLAS_NUM_THREADS") == nullptr); });
}
st_err st_get_num_threads(int *n) { return guard([&] { *n = at::get_num_threads(); }); }
st_err st_blas_num_threads(int *n) {
  return guard([&] {
    using getter = int (*)(void);
    auto f = reinterpret_cast<getter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    *n = f != nullptr ? f() : -1;
  });
}
st_err st_cuda_device_count(int *n) { return guard([&] { *n = static_cast<int>(torch::cuda::device_count()); }); }
st_err st_set_grad_enabled(int enabled) { return guard([&] { at::GradMode::set_enabled(enabled != 0); }); }
st_err st_is_grad_enabled(int *enabled) { return guard([&] { *enabled = at::GradMode::is_enabled() ? 1 : 0; }); }

// ---- creation and data ----

st_err st_from_data(const void *data, const int64_t *shape, int ndim, int dtype, st_tensor *out) {
  return guard([&] {
    auto opts = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    auto t = at::empty(dims(shape, ndim), opts);
    if (t.numel() > 0) std::memcpy(t.data_ptr(), data, t.numel() * t.element_size());
    *out = wrap(t);
  });
}

st_err st_copy_data(st_tensor h, void *dst, int64_t nbytes) {
  return guard([&] {
    auto t = T(h).detach();
    if (t.layout() != at::kStrided) t = t.to_dense();  // sparse and mkldnn tensors: their values
    if (t._is_zerotensor()) t = at::zeros(t.sizes(), t.options());  // autograd's storage-less zeros
    t = t.to(at::kCPU).contiguous();
    int64_t want = t.numel() * static_cast<int64_t>(t.element_size());
    TORCH_CHECK(want == nbytes, "copy_data: tensor has ", want, " bytes, destination ", nbytes);
    TORCH_CHECK(want == 0 || t.data_ptr() != nullptr, "copy_data: the tensor has no data (", t.toString(), ")");
    if (want > 0) std::memcpy(dst, t.data_ptr(), want);
  });
}

st_err st_ndim(st_tensor t, int *ndim) { return guard([&] { *ndim = static_cast<int>(T(t).dim()); }); }
st_err st_shape(st_tensor h, int64_t *d, int cap) {
  return guard([&] {
    auto s = T(h).sizes();
    TORCH_CHECK(static_cast<int>(s.size()) <= cap, "shape: buffer too small");
    for (size_t i = 0; i < s.size(); i++) d[i] = s[i];
  });
}
st_err st_dtype(st_tensor t, int *dtype) { return guard([&] { *dtype = static_cast<int>(T(t).scalar_type()); }); }
st_err st_device(st_tensor h, int *type, int *index) {
  return guard([&] {
    auto d = T(h).device();
    *type = d.is_cuda() ? ST_CUDA : ST_CPU;
    *index = d.has_index() ? d.index() : 0;
  });
}
st_err st_item(st_tensor t, double *out) { return guard([&] { *out = T(t).item<double>(); }); }
st_err st_to(st_tensor h, int dev_type, int dev_index, int dtype, st_tensor *out) {
  return guard([&] {
    auto &t = T(h);
    auto st = dtype < 0 ? t.scalar_type() : static_cast<at::ScalarType>(dtype);
    *out = wrap(t.to(options(static_cast<int>(st), dev_type, dev_index)));
  });
}
st_err st_zeros(const int64_t *shape, int ndim, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::zeros(dims(shape, ndim), options(dtype, dt, di))); });
}
st_err st_full(const int64_t *shape, int ndim, double v, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::full(dims(shape, ndim), v, options(dtype, dt, di))); });
}
st_err st_arange(double start, double end, double step, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::arange(start, end, step, options(dtype, dt, di))); });
}
st_err st_rand(const int64_t *shape, int ndim, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::rand(dims(shape, ndim), options(dtype, dt, di))); });
}
st_err st_randn(const int64_t *shape, int ndim, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::randn(dims(shape, ndim), options(dtype, dt, di))); });
}
st_err st_randperm(int64_t n, int dtype, int dt, int di, st_tensor *out) {
  return guard([&] { *out = wrap(at::randperm(n, options(dtype, dt, di))); });
}

// ---- elementwise, one input ----

#define ST_UNARY(name, expr) \
  st_err st_##name(st_tensor a, st_tensor *out) { return guard([&] { *out = wrap(expr); }); }
ST_UNARY(neg, T(a).neg())
ST_UNARY(abs, T(a).abs())
ST_UNARY(exp, T(a).exp())
ST_UNARY(log, T(a).log())
ST_UNARY(sqrt, T(a).sqrt())
ST_UNARY(relu, T(a).relu())
ST_UNARY(tanh, T(a).tanh())
ST_UNARY(sigmoid, T(a).sigmoid())
ST_UNARY(contiguous, T(a).contiguous())
ST_UNARY(detach, T(a).detach())
ST_UNARY(clone, T(a).clone())
ST_UNARY(logical_not, T(a).logical_not())
#undef ST_UNARY

// ---- elementwise, two inputs ----

st_err st_binary(int op, st_tensor ha, st_tensor hb, st_tensor *out) {
  return guard([&] {
    auto &a = T(ha);
    auto &b = T(hb);
    at::Tensor r;
    switch (op) {
      case ST_ADD: r = a + b; break;
      case ST_SUB: r = a - b; break;
      case ST_MUL: r = a * b; break;
      case ST_DIV: r = a / b; break;
      case ST_POW: r = a.pow(b); break;
      case ST_EQ: r = a.eq(b); break;
      case ST_NE: r = a.ne(b); break;
      case ST_LT: r = a.lt(b); break;
      case ST_LE: r = a.le(b); break;
      case ST_GT: r = a.gt(b); break;
      case ST_GE: r = a.ge(b); break;
      case ST_MAXIMUM: r = at::maximum(a, b); break;
      case ST_MINIMUM: r = at::minimum(a, b); break;
      case ST_MATMUL: r = a.matmul(b); break;
      case ST_LOGICAL_AND: r = a.logical_and(b); break;
      case ST_LOGICAL_OR: r = a.logical_or(b); break;
      default: TORCH_CHECK(false, "binary: unknown op ", op);
    }
    *out = wrap(r);
  });
}

st_err st_binary_scalar(int op, st_tensor ha, double s, st_tensor *out) {
  return guard([&] {
    auto &a = T(ha);
    at::Tensor r;
    switch (op) {
      case ST_ADD: r = a + s; break;
      case ST_SUB: r = a - s; break;
      case ST_MUL: r = a * s; break;
      case ST_DIV: r = a / s; break;
      case ST_POW: r = a.pow(s); break;
      case ST_EQ: r = a.eq(s); break;
      case ST_NE: r = a.ne(s); break;
      case ST_LT: r = a.lt(s); break;
      case ST_LE: r = a.le(s); break;
      case ST_GT: r = a.gt(s); break;
      case ST_GE: r = a.ge(s); break;
      default: TORCH_CHECK(false, "binary_scalar: op ", op, " takes no scalar");
    }
    *out = wrap(r);
  });
}

st_err st_rsub_scalar(st_tensor a, double s, st_tensor *out) {
  return guard([&] { *out = wrap(at::rsub(T(a), s)); });
}
st_err st_clamp(st_tensor a, int has_min, double mn, int has_max, double mx, st_tensor *out) {
  return guard([&] {
    c10::optional<at::Scalar> lo, hi;
    if (has_min) lo = mn;
    if (has_max) hi = mx;
    *out = wrap(at::clamp(T(a), lo, hi));
  });
}
st_err st_where(st_tensor c, st_tensor a, st_tensor b, st_tensor *out) {
  return guard([&] { *out = wrap(at::where(T(c), T(a), T(b))); });
}

// ---- reductions ----

st_err st_sum(st_tensor a, const int64_t *d, int n, int keepdim, st_tensor *out) {
  return guard([&] { *out = wrap(n == 0 ? T(a).sum() : T(a).sum(dims(d, n), keepdim != 0)); });
}
st_err st_mean(st_tensor a, const int64_t *d, int n, int keepdim, st_tensor *out) {
  return guard([&] { *out = wrap(n == 0 ? T(a).mean() : T(a).mean(dims(d, n), keepdim != 0)); });
}
st_err st_max_all(st_tensor a, st_tensor *out) { return guard([&] { *out = wrap(T(a).max()); }); }
st_err st_min_all(st_tensor a, st_tensor *out) { return guard([&] { *out = wrap(T(a).min()); }); }
st_err st_max_dim(st_tensor a, int64_t dim, int keepdim, st_tensor *values, st_tensor *indices) {
  return guard([&] {
    auto r = T(a).max(dim, keepdim != 0);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  });
}
st_err st_argmax(st_tensor a, int64_t dim, int keepdim, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).argmax(dim, keepdim != 0)); });
}
st_err st_norm(st_tensor a, double p, const int64_t *d, int n, int keepdim, st_tensor *out) {
  return guard([&] { *out = wrap(n == 0 ? at::norm(T(a), p) : at::norm(T(a), p, dims(d, n), keepdim != 0)); });
}
st_err st_sort(st_tensor a, int64_t dim, int descending, st_tensor *values, st_tensor *indices) {
  return guard([&] {
    auto r = T(a).sort(dim, descending != 0);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  });
}
st_err st_softmax(st_tensor a, int64_t dim, st_tensor *out) { return guard([&] { *out = wrap(T(a).softmax(dim)); }); }
st_err st_log_softmax(st_tensor a, int64_t dim, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).log_softmax(dim)); });
}
st_err st_dropout(st_tensor a, double p, int train, st_tensor *out) {
  return guard([&] { *out = wrap(at::dropout(T(a), p, train != 0)); });
}

// ---- shape and indexing ----

st_err st_cat(const st_tensor *ts, int n, int64_t dim, st_tensor *out) {
  return guard([&] { *out = wrap(at::cat(list(ts, n), dim)); });
}
st_err st_stack(const st_tensor *ts, int n, int64_t dim, st_tensor *out) {
  return guard([&] { *out = wrap(at::stack(list(ts, n), dim)); });
}
st_err st_view(st_tensor a, const int64_t *s, int n, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).view(dims(s, n))); });
}
st_err st_reshape(st_tensor a, const int64_t *s, int n, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).reshape(dims(s, n))); });
}
st_err st_expand(st_tensor a, const int64_t *s, int n, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).expand(dims(s, n))); });
}
st_err st_transpose(st_tensor a, int64_t d0, int64_t d1, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).transpose(d0, d1)); });
}
st_err st_permute(st_tensor a, const int64_t *d, int n, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).permute(dims(d, n))); });
}
st_err st_squeeze(st_tensor a, int has_dim, int64_t dim, st_tensor *out) {
  return guard([&] { *out = wrap(has_dim ? T(a).squeeze(dim) : T(a).squeeze()); });
}
st_err st_unsqueeze(st_tensor a, int64_t dim, st_tensor *out) { return guard([&] { *out = wrap(T(a).unsqueeze(dim)); }); }
st_err st_index_select(st_tensor a, int64_t dim, st_tensor idx, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).index_select(dim, T(idx))); });
}
st_err st_gather(st_tensor a, int64_t dim, st_tensor idx, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).gather(dim, T(idx))); });
}
st_err st_narrow(st_tensor a, int64_t dim, int64_t start, int64_t length, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).narrow(dim, start, length)); });
}
st_err st_masked_fill(st_tensor a, st_tensor mask, double v, st_tensor *out) {
  return guard([&] { *out = wrap(T(a).masked_fill(T(mask), v)); });
}

// ---- autograd ----

st_err st_set_requires_grad(st_tensor t, int r) {
  return guard([&] { const_cast<at::Tensor &>(T(t)).requires_grad_(r != 0); });
}
st_err st_requires_grad(st_tensor t, int *r) { return guard([&] { *r = T(t).requires_grad() ? 1 : 0; }); }
st_err st_backward(st_tensor t, st_tensor grad, int retain_graph) {
  return guard([&] {
    at::Tensor g;
    if (grad != nullptr) g = T(grad);
    T(t).backward(g, retain_graph != 0 ? c10::optional<bool>(true) : c10::nullopt);
  });
}
st_err st_grad(st_tensor t, st_tensor *out) { return guard([&] { *out = wrap_opt(T(t).grad()); }); }
st_err st_zero_grad(st_tensor h, int set_to_none) {
  return guard([&] {
    auto &g = const_cast<at::Tensor &>(T(h)).mutable_grad();
    if (!g.defined()) return;
    if (set_to_none) {
      g.reset();
    } else {
      g = g.detach();
      g.zero_();
    }
  });
}

st_err st_set_data(st_tensor t, st_tensor src) {
  return guard([&] { const_cast<at::Tensor &>(T(t)).set_data(T(src)); });
}

// ---- in place: recorded by autograd under the caller's grad mode, as in PyTorch ----

#define ST_INPLACE(sig, expr)                  \
  st_err sig {                                 \
    return guard([&] {                         \
      auto &x = const_cast<at::Tensor &>(T(t)); \
      expr;                                    \
    });                                        \
  }
ST_INPLACE(st_add_(st_tensor t, st_tensor o, double alpha), x.add_(T(o), alpha))
ST_INPLACE(st_mul_(st_tensor t, st_tensor o), x.mul_(T(o)))
ST_INPLACE(st_mul_scalar_(st_tensor t, double s), x.mul_(s))
ST_INPLACE(st_add_scalar_(st_tensor t, double s), x.add_(s))
ST_INPLACE(st_addcmul_(st_tensor t, st_tensor a, st_tensor b, double v), x.addcmul_(T(a), T(b), v))
ST_INPLACE(st_addcdiv_(st_tensor t, st_tensor a, st_tensor b, double v), x.addcdiv_(T(a), T(b), v))
ST_INPLACE(st_copy_(st_tensor t, st_tensor src), x.copy_(T(src)))
ST_INPLACE(st_fill_(st_tensor t, double v), x.fill_(v))
ST_INPLACE(st_uniform_(st_tensor t, double from, double to), x.uniform_(from, to))
ST_INPLACE(st_normal_(st_tensor t, double mean, double std), x.normal_(mean, std))
#undef ST_INPLACE

// ---- neural network functions ----

st_err st_linear(st_tensor x, st_tensor w, st_tensor b, st_tensor *out) {
  return guard([&] { *out = wrap(at::linear(T(x), T(w), opt(b))); });
}
st_err st_embedding(st_tensor w, st_tensor idx, int64_t padding_idx, st_tensor *out) {
  return guard([&] { *out = wrap(at::embedding(T(w), T(idx), padding_idx)); });
}

namespace {
// wrap_rnn hands a recurrent kernel's output, h_n and (when defined: LSTM) c_n to the caller.
void wrap_rnn(const std::tuple<at::Tensor, at::Tensor, at::Tensor> &r, st_tensor *output, st_tensor *h_n,
              st_tensor *c_n) {
  *output = wrap(std::get<0>(r));
  *h_n = wrap(std::get<1>(r));
  *c_n = wrap_opt(std::get<2>(r));
}
}  // namespace

st_err st_rnn(int mode, st_tensor input, const st_tensor *hx, int nhx, const st_tensor *params, int nparams,
              int has_biases, int64_t layers, double dropout, int train, int bidi, int batch_first, int fused,
              st_tensor *output, st_tensor *h_n, st_tensor *c_n) {
  return guard([&] {
    auto h = list(hx, nhx);
    auto p = list(params, nparams);
    bool hb = has_biases != 0, tr = train != 0, bd = bidi != 0, bf = batch_first != 0;
    *c_n = nullptr;
    auto &x = T(input);
    if ((mode == ST_LSTM || mode == ST_GRU) && fused != 0 && x.dim() == 3) {
      auto cell = mode == ST_LSTM ? st::FusedCell::LSTM : st::FusedCell::GRU;
      if (st::rnn_fusable(cell, x, x.size(bf ? 0 : 1), h, p, hb, layers, bd)) {
        auto r = st::rnn_fused(cell, x, h, p, hb, layers, dropout, tr, bd, bf);
        wrap_rnn(r, output, h_n, c_n);
        return;
      }
    }
    if (mode == ST_LSTM) {
      wrap_rnn(at::lstm(x, h, p, hb, layers, dropout, tr, bd, bf), output, h_n, c_n);
      return;
    }
    TORCH_CHECK(nhx == 1, "rnn: expected one initial state tensor, got ", nhx);
    std::tuple<at::Tensor, at::Tensor> r;
    switch (mode) {
      case ST_RNN_TANH: r = at::rnn_tanh(x, h[0], p, hb, layers, dropout, tr, bd, bf); break;
      case ST_RNN_RELU: r = at::rnn_relu(x, h[0], p, hb, layers, dropout, tr, bd, bf); break;
      case ST_GRU: r = at::gru(x, h[0], p, hb, layers, dropout, tr, bd, bf); break;
      default: TORCH_CHECK(false, "rnn: unknown mode ", mode);
    }
    *output = wrap(std::get<0>(r));
    *h_n = wrap(std::get<1>(r));
  });
}

st_err st_rnn_packed(int mode, st_tensor data, st_tensor batch_sizes, const st_tensor *hx, int nhx,
                     const st_tensor *params, int nparams, int has_biases, int64_t layers, double dropout,
                     int train, int bidi, int fused, st_tensor *output, st_tensor *h_n, st_tensor *c_n) {
  return guard([&] {
    auto h = list(hx, nhx);
    auto p = list(params, nparams);
    bool hb = has_biases != 0, tr = train != 0, bd = bidi != 0;
    auto &d = T(data);
    auto &bs = T(batch_sizes);
    *c_n = nullptr;
    if ((mode == ST_LSTM || mode == ST_GRU) && fused != 0 && st::packed_steps_valid(d, bs)) {
      auto cell = mode == ST_LSTM ? st::FusedCell::LSTM : st::FusedCell::GRU;
      if (st::rnn_fusable(cell, d, bs[0].item<int64_t>(), h, p, hb, layers, bd)) {
        auto r = st::rnn_fused_packed(cell, d, bs, h, p, hb, layers, dropout, tr, bd);
        wrap_rnn(r, output, h_n, c_n);
        return;
      }
    }
    if (mode == ST_LSTM) {
      wrap_rnn(at::lstm(d, bs, h, p, hb, layers, dropout, tr, bd), output, h_n, c_n);
      return;
    }
    TORCH_CHECK(nhx == 1, "rnn: expected one initial state tensor, got ", nhx);
    std::tuple<at::Tensor, at::Tensor> r;
    switch (mode) {
      case ST_RNN_TANH: r = at::rnn_tanh(d, bs, h[0], p, hb, layers, dropout, tr, bd); break;
      case ST_RNN_RELU: r = at::rnn_relu(d, bs, h[0], p, hb, layers, dropout, tr, bd); break;
      case ST_GRU: r = at::gru(d, bs, h[0], p, hb, layers, dropout, tr, bd); break;
      default: TORCH_CHECK(false, "rnn: unknown mode ", mode);
    }
    *output = wrap(std::get<0>(r));
    *h_n = wrap(std::get<1>(r));
  });
}

st_err st_pack_padded(st_tensor input, st_tensor lengths, int batch_first, st_tensor *data, st_tensor *batch_sizes) {
  return guard([&] {
    auto r = at::_pack_padded_sequence(T(input), T(lengths), batch_first != 0);
    *data = wrap(std::get<0>(r));
    *batch_sizes = wrap(std::get<1>(r));
  });
}
st_err st_pad_packed(st_tensor data, st_tensor batch_sizes, int batch_first, double padding_value,
                     int64_t total_length, st_tensor *padded, st_tensor *lengths) {
  return guard([&] {
    auto r = at::_pad_packed_sequence(T(data), T(batch_sizes), batch_first != 0, padding_value, total_length);
    *padded = wrap(std::get<0>(r));
    *lengths = wrap(std::get<1>(r));
  });
}

// ---- losses ----

st_err st_cross_entropy(st_tensor input, st_tensor target, st_tensor weight, int reduction, int64_t ignore_index,
                        double label_smoothing, st_tensor *out) {
  return guard([&] {
    *out = wrap(at::cross_entropy_loss(T(input), T(target), opt(weight), reduction, ignore_index, label_smoothing));
  });
}
st_err st_nll_loss(st_tensor input, st_tensor target, st_tensor weight, int reduction, int64_t ignore_index,
                   st_tensor *out) {
  return guard([&] { *out = wrap(at::nll_loss_nd(T(input), T(target), opt(weight), reduction, ignore_index)); });
}
st_err st_mse_loss(st_tensor input, st_tensor target, int reduction, st_tensor *out) {
  return guard([&] { *out = wrap(at::mse_loss(T(input), T(target), reduction)); });
}
st_err st_l1_loss(st_tensor input, st_tensor target, int reduction, st_tensor *out) {
  return guard([&] { *out = wrap(at::l1_loss(T(input), T(target), reduction)); });
}
st_err st_bce_with_logits(st_tensor input, st_tensor target, st_tensor weight, st_tensor pos_weight, int reduction,
                          st_tensor *out) {
  return guard([&] {
    *out = wrap(at::binary_cross_entropy_with_logits(T(input), T(target), opt(weight), opt(pos_weight), reduction));
  });
}
st_err st_triplet_margin_loss(st_tensor a, st_tensor p, st_tensor n, double margin, double norm, double eps, int swap,
                              int reduction, st_tensor *out) {
  return guard([&] {
    *out = wrap(at::triplet_margin_loss(T(a), T(p), T(n), margin, norm, eps, swap != 0, reduction));
  });
}
st_err st_pairwise_distance(st_tensor a, st_tensor b, double p, double eps, int keepdim, st_tensor *out) {
  return guard([&] { *out = wrap(at::pairwise_distance(T(a), T(b), p, eps, keepdim != 0)); });
}

// ---- serialization ----

st_err st_save_dict(const char *path, const char *const *names, const st_tensor *ts, int n) {
  return guard([&] {
    c10::Dict<std::string, at::Tensor> d;
    for (int i = 0; i < n; i++) d.insert(names[i], T(ts[i]));
    auto bytes = torch_save_bytes(d);
    std::ofstream f(path, std::ios::binary);
    TORCH_CHECK(f.good(), "cannot open ", path, " for writing");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    TORCH_CHECK(f.good(), "writing ", path, " failed");
  });
}

st_err st_load_dict(const char *path, char ***names, st_tensor **ts, int *n) {
  return guard([&] {
    *names = nullptr;
    *ts = nullptr;
    *n = 0;
    std::ifstream f(path, std::ios::binary);
    TORCH_CHECK(f.good(), "cannot open ", path);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto iv = torch::pickle_load(bytes);
    TORCH_CHECK(iv.isGenericDict(), path, ": expected a dict of tensors, got ", iv.tagKind());
    auto d = iv.toGenericDict();
    std::vector<std::string> ks;
    std::vector<at::Tensor> vs;
    for (const auto &kv : d) {
      TORCH_CHECK(kv.key().isString(), path, ": dict key is not a string");
      TORCH_CHECK(kv.value().isTensor(), path, ": value for ", kv.key().toStringRef(), " is not a tensor");
      ks.push_back(kv.key().toStringRef());
      vs.push_back(kv.value().toTensor());
    }
    if (ks.empty()) return;
    auto **nm = static_cast<char **>(std::calloc(ks.size(), sizeof(char *)));
    auto **tt = static_cast<st_tensor *>(std::calloc(ks.size(), sizeof(st_tensor)));
    TORCH_CHECK(nm != nullptr && tt != nullptr, "out of memory");
    for (size_t i = 0; i < ks.size(); i++) {
      nm[i] = dup(ks[i]);
      tt[i] = wrap(vs[i]);
    }
    *names = nm;
    *ts = tt;
    *n = static_cast<int>(ks.size());
  });
}

void st_free_names(char **names, int n) {
  if (names == nullptr) return;
  for (int i = 0; i < n; i++) std::free(names[i]);
  std::free(names);
}
void st_free_array(void *p) { std::free(p); }

}  // extern "C"
