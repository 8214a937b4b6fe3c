// dist.cpp: the distributed part of shim.h — libtorch's c10d stores, process groups (Gloo, and
// NCCL in CUDA builds that have it) and the Reducer that DistributedDataParallel uses. Built
// with ST_WITH_GLOO when find-libtorch.sh found c10d with Gloo in the libtorch (and the gloo
// headers); without it every function reports that this libtorch has no c10d.
#include "handles.h"

#include <torch/version.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace st;

#if defined(ST_WITH_GLOO)
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#if defined(ST_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>

// libtorch 2.x made the process groups' implementations Backends behind one c10d::ProcessGroup.
#define ST_TORCH_2 (TORCH_VERSION_MAJOR >= 2)

struct st_store_s {
  c10::intrusive_ptr<c10d::Store> s;
};
struct st_pg_s {
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::chrono::milliseconds timeout;
  int size;
  bool gloo;  // Gloo has no AVG: all_reduce sums and divides
};
struct st_reducer_s {
  std::unique_ptr<c10d::Reducer> r;
};

static_assert(static_cast<int>(ST_REDUCE_SUM) == static_cast<int>(c10d::ReduceOp::SUM), "ST_REDUCE_SUM");
static_assert(static_cast<int>(ST_REDUCE_AVG) == static_cast<int>(c10d::ReduceOp::AVG), "ST_REDUCE_AVG");
static_assert(static_cast<int>(ST_REDUCE_PRODUCT) == static_cast<int>(c10d::ReduceOp::PRODUCT), "ST_REDUCE_PRODUCT");
static_assert(static_cast<int>(ST_REDUCE_MIN) == static_cast<int>(c10d::ReduceOp::MIN), "ST_REDUCE_MIN");
static_assert(static_cast<int>(ST_REDUCE_MAX) == static_cast<int>(c10d::ReduceOp::MAX), "ST_REDUCE_MAX");

namespace {

std::chrono::milliseconds ms(int64_t v) { return std::chrono::milliseconds(v); }

c10d::Store &S(st_store h) {
  if (h == nullptr || !h->s) throw std::invalid_argument("nil store");
  return *h->s;
}
st_pg_s &P(st_pg h) {
  if (h == nullptr || !h->pg) throw std::invalid_argument("nil process group");
  return *h;
}

// wait waits for w up to the group's timeout; a failed or timed-out collective throws.
void wait(const st_pg_s &p, const c10::intrusive_ptr<c10d::Work> &w) {
  if (!w->wait(p.timeout)) throw std::runtime_error("collective did not complete");
}

// group wraps a backend as the c10d::ProcessGroup that collectives and the Reducer take.
template <class B>
c10::intrusive_ptr<c10d::ProcessGroup> group(const c10::intrusive_ptr<c10d::Store> &store, int rank, int size,
                                              c10::intrusive_ptr<B> backend, c10::DeviceType device,
                                              int backend_type) {
#if ST_TORCH_2
  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
  auto type = static_cast<c10d::ProcessGroup::BackendType>(backend_type);
  pg->setDefaultBackend(type);
  pg->setBackend(device, type, backend);
  return pg;
#else
  return backend;
#endif
}

}  // namespace

extern "C" {

st_err st_dist_features(int *features) {
  return guard([&] {
    int f = ST_DIST_GLOO | ST_DIST_REDUCER;
#if defined(ST_WITH_NCCL)
    f |= ST_DIST_NCCL;
#endif
#if ST_TORCH_2
    f |= ST_DIST_LISTEN_FD;
#endif
    *features = f;
  });
}

st_err st_store_tcp(const char *host, int port, int is_server, int world_size, int64_t timeout_ms, int listen_fd,
                    st_store *out) {
  return guard([&] {
    if (port < 0 || port > 65535) throw std::invalid_argument("port " + std::to_string(port) + " out of range");
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(port);
    o.isServer = is_server != 0;
    if (world_size > 0) o.numWorkers = static_cast<std::size_t>(world_size);
    o.waitWorkers = false;  // the process group's rendezvous waits for every rank
    o.timeout = ms(timeout_ms);
#if ST_TORCH_2
    o.useLibUV = false;  // Debian's libtorch is built without libuv
    if (listen_fd >= 0) o.masterListenFd = listen_fd;
#else
    if (listen_fd >= 0) throw std::invalid_argument("this libtorch's TCPStore cannot take a listening socket");
#endif
    *out = new st_store_s{c10::make_intrusive<c10d::TCPStore>(host, o)};
  });
}

st_err st_store_file(const char *path, int num_workers, int64_t timeout_ms, st_store *out) {
  return guard([&] {
    auto s = c10::make_intrusive<c10d::FileStore>(path, num_workers);
    s->setTimeout(ms(timeout_ms));
    *out = new st_store_s{s};
  });
}

st_err st_store_prefix(st_store base, const char *prefix, st_store *out) {
  return guard([&] {
    S(base);
    *out = new st_store_s{c10::make_intrusive<c10d::PrefixStore>(prefix, base->s)};
  });
}

st_err st_store_set_timeout(st_store s, int64_t timeout_ms) { return guard([&] { S(s).setTimeout(ms(timeout_ms)); }); }

st_err st_store_set(st_store s, const char *key, const void *value, int64_t n) {
  return guard([&] {
    const auto *b = static_cast<const uint8_t *>(value);
    S(s).set(key, std::vector<uint8_t>(b, b + n));
  });
}

st_err st_store_get(st_store s, const char *key, void **value, int64_t *n) {
  return guard([&] {
    auto v = S(s).get(key);
    *value = std::malloc(v.empty() ? 1 : v.size());
    if (*value == nullptr) throw std::bad_alloc();
    std::memcpy(*value, v.data(), v.size());
    *n = static_cast<int64_t>(v.size());
  });
}

st_err st_store_add(st_store s, const char *key, int64_t delta, int64_t *out) {
  return guard([&] { *out = S(s).add(key, delta); });
}

void st_store_free(st_store s) { delete s; }

st_err st_pg_gloo(st_store store, int rank, int size, const char *iface, const char *host, int64_t timeout_ms,
                  st_pg *out) {
  return guard([&] {
    S(store);
    auto o = c10d::ProcessGroupGloo::Options::create(ms(timeout_ms));
    if (iface != nullptr && *iface != 0) {
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    } else if (host != nullptr && *host != 0) {
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
    } else {
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto g = c10::make_intrusive<c10d::ProcessGroupGloo>(store->s, rank, size, o);
    *out = new st_pg_s{group(store->s, rank, size, g, c10::DeviceType::CPU, 1 /* GLOO */), ms(timeout_ms), size, true};
  });
}

st_err st_pg_nccl(st_store store, int rank, int size, int64_t timeout_ms, st_pg *out) {
  return guard([&] {
#if defined(ST_WITH_NCCL)
    S(store);
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = ms(timeout_ms);
    auto g = c10::make_intrusive<c10d::ProcessGroupNCCL>(store->s, rank, size, o);
    *out = new st_pg_s{group(store->s, rank, size, g, c10::DeviceType::CUDA, 2 /* NCCL */), ms(timeout_ms), size, false};
#else
    throw std::runtime_error("this libtorch has no NCCL process group (ProcessGroupNCCL)");
#endif
  });
}

st_err st_pg_all_reduce(st_pg h, const st_tensor *ts, int n, int op) {
  return guard([&] {
    auto &p = P(h);
    auto v = list(ts, n);
    auto red = static_cast<c10d::ReduceOp::RedOpType>(op);
    bool avg = red == c10d::ReduceOp::AVG && p.gloo;
    if (avg) {
      for (const auto &t : v)
        if (!at::isFloatingType(t.scalar_type())) throw std::invalid_argument("AVG needs floating-point tensors");
      red = c10d::ReduceOp::SUM;
    }
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp(red);
    o.timeout = p.timeout;
    wait(p, p.pg->allreduce(v, o));
    if (avg) {
      at::NoGradGuard no_grad;
      for (auto &t : v) t.div_(p.size);
    }
  });
}

st_err st_pg_broadcast(st_pg h, const st_tensor *ts, int n, int root) {
  return guard([&] {
    auto &p = P(h);
    auto v = list(ts, n);
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = p.timeout;
    wait(p, p.pg->broadcast(v, o));
  });
}

st_err st_pg_all_gather(st_pg h, const st_tensor *outs, int size, st_tensor in) {
  return guard([&] {
    auto &p = P(h);
    std::vector<std::vector<at::Tensor>> o{list(outs, size)};
    std::vector<at::Tensor> i{T(in)};
    c10d::AllgatherOptions opts;
    opts.timeout = p.timeout;
    wait(p, p.pg->allgather(o, i, opts));
  });
}

st_err st_pg_barrier(st_pg h) {
  return guard([&] {
    auto &p = P(h);
    c10d::BarrierOptions o;
    o.timeout = p.timeout;
    wait(p, p.pg->barrier(o));
  });
}

st_err st_pg_broadcast_coalesced(st_pg h, const st_tensor *ts, int n, int64_t buffer_bytes, int root) {
  return guard([&] {
    auto &p = P(h);
    auto v = list(ts, n);
    at::NoGradGuard no_grad;
    c10d::broadcast_coalesced(p.pg, v, static_cast<size_t>(buffer_bytes), root);
  });
}

void st_pg_free(st_pg pg) { delete pg; }

st_err st_reducer_new(st_pg h, const st_tensor *params, int n, int64_t bucket_bytes, int64_t first_bucket_bytes,
                      st_reducer *out) {
  return guard([&] {
    auto &p = P(h);
    auto v = list(params, n);
    std::vector<bool> sparse(v.size(), false);
    // As torch.nn.parallel.DistributedDataParallel: buckets assigned by size over the
    // parameters, then handed to the Reducer in reverse (gradients become ready back to front).
    auto assigned = c10d::compute_bucket_assignment_by_size(
        v, {static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)}, sparse);
    auto buckets = std::get<0>(assigned);
    auto limits = std::get<1>(assigned);
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(limits.begin(), limits.end());
    auto r = std::make_unique<c10d::Reducer>(v, buckets, limits, p.pg, sparse, bucket_bytes,
                                             /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                                             std::unordered_map<size_t, std::string>{}, first_bucket_bytes);
    *out = new st_reducer_s{std::move(r)};
  });
}

st_err st_reducer_prepare(st_reducer h) {
  return guard([&] {
    if (h == nullptr || !h->r) throw std::invalid_argument("nil reducer");
    h->r->prepare_for_forward();
    h->r->rebuild_buckets();
    h->r->prepare_for_backward(std::vector<at::Tensor>{});
  });
}

void st_reducer_free(st_reducer r) { delete r; }

}  // extern "C"

#else  // no c10d with Gloo in this libtorch

struct st_store_s {};
struct st_pg_s {};
struct st_reducer_s {};

namespace {
[[noreturn]] void none() {
  throw std::runtime_error("this libtorch has no c10d with Gloo (torch.distributed); rebuild the shim against one that has (Debian: libtorch-dev with libgloo-dev)");
}
}  // namespace

extern "C" {
st_err st_dist_features(int *features) { return guard([&] { *features = 0; }); }
st_err st_store_tcp(const char *, int, int, int, int64_t, int, st_store *) { return guard(none); }
st_err st_store_file(const char *, int, int64_t, st_store *) { return guard(none); }
st_err st_store_prefix(st_store, const char *, st_store *) { return guard(none); }
st_err st_store_set_timeout(st_store, int64_t) { return guard(none); }
st_err st_store_set(st_store, const char *, const void *, int64_t) { return guard(none); }
st_err st_store_get(st_store, const char *, void **, int64_t *) { return guard(none); }
st_err st_store_add(st_store, const char *, int64_t, int64_t *) { return guard(none); }
void st_store_free(st_store) {}
st_err st_pg_gloo(st_store, int, int, const char *, const char *, int64_t, st_pg *) { return guard(none); }
st_err st_pg_nccl(st_store, int, int, int64_t, st_pg *) { return guard(none); }
st_err st_pg_all_reduce(st_pg, const st_tensor *, int, int) { return guard(none); }
st_err st_pg_broadcast(st_pg, const st_tensor *, int, int) { return guard(none); }
st_err st_pg_all_gather(st_pg, const st_tensor *, int, st_tensor) { return guard(none); }
st_err st_pg_barrier(st_pg) { return guard(none); }
st_err st_pg_broadcast_coalesced(st_pg, const st_tensor *, int, int64_t, int) { return guard(none); }
void st_pg_free(st_pg) {}
st_err st_reducer_new(st_pg, const st_tensor *, int, int64_t, int64_t, st_reducer *) { return guard(none); }
st_err st_reducer_prepare(st_reducer) { return guard(none); }
void st_reducer_free(st_reducer) {}
}  // extern "C"

#endif
