/* shim.h: the plain C ABI between Go (package torch) and the libtorch C++ API.
 *
 * Conventions:
 *   - Every function returns st_err: NULL on success, else a malloc'd message that the
 *     caller frees with st_free_err. C++ exceptions never cross this boundary.
 *   - Results are written into caller-provided slots. A returned st_tensor is a new,
 *     owned handle; the caller releases it with st_free.
 *   - int arguments that select a dtype, device type, recurrent cell or loss reduction take
 *     the values of the enums below (shim.cpp checks them against libtorch's with
 *     static_assert); Go uses these names, never bare numbers.
 *   - Optional tensor arguments are NULL when absent.
 */
#ifndef SEQTORCH_SHIM_H
#define SEQTORCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef struct st_tensor_s *st_tensor;
/* Every tensor handle begins with this header, which Go reads without a call: nbytes is the
 * bytes of the storage the tensor's data lives in when the handle was made (0 for a tensor
 * without storage), what the handle keeps alive at most. */
typedef struct st_tensor_head {
  int64_t nbytes;
} st_tensor_head;
typedef char *st_err;

/* ---- enumerations (passed as int) ---- */
/* dtype codes: the c10::ScalarType values of the dtypes seqtorch uses (st_to takes -1 for
 * "keep the tensor's dtype") */
enum st_scalar_type { ST_UINT8 = 0, ST_INT32 = 3, ST_INT64 = 4, ST_FLOAT16 = 5, ST_FLOAT32 = 6,
                      ST_FLOAT64 = 7, ST_BOOL = 11 };
/* device types: c10::DeviceType values */
enum st_device_type { ST_CPU = 0, ST_CUDA = 1 };
/* the recurrent cell of st_rnn and st_rnn_packed (torch.nn.RNNBase's mode strings) */
enum st_rnn_mode { ST_RNN_TANH = 0, ST_RNN_RELU = 1, ST_LSTM = 2, ST_GRU = 3 };
/* loss reductions: at::Reduction::Reduction values */
enum st_reduction { ST_REDUCTION_NONE = 0, ST_REDUCTION_MEAN = 1, ST_REDUCTION_SUM = 2 };

void st_free_err(st_err e);
void st_free(st_tensor t);
/* st_free_many frees n handles (a scope closing) in one call */
void st_free_many(const st_tensor *ts, int n);

/* ---- identity (abi.cpp) ----
 * st_abi returns the hash of the seqtorch sources this shim was built from (a static string,
 * not freed): sha256 over `sha256sum` of csrc's *.h and *.cpp files in name order. Package torch
 * compares it with the sources it embeds and refuses a shim built from other sources.
 * st_build_origin: where the shim's libtorch came from (make libtorch's "source" text) and the
 * path of the libtorch library file the process loaded. */
const char *st_abi(void);
st_err st_build_origin(char **source, char **torch_library);

/* ---- runtime ----
 * st_init: once per process, when the shim is loaded. Unless the environment chose them
 * (OMP_NUM_THREADS / MKL_NUM_THREADS, OPENBLAS_NUM_THREADS, MALLOC_ARENA_MAX,
 * MALLOC_MMAP_THRESHOLD_), it sets libtorch's intra-op threads to the physical cores of the
 * CPUs the process may run on (as PyTorch does), OpenBLAS's threads likewise, and tunes glibc
 * malloc for a Go program (an arena per CPU, a fixed 4 MiB mmap threshold; see shim.cpp).
 * st_set_num_threads sets libtorch's intra-op threads and, when the process has OpenBLAS and
 * OPENBLAS_NUM_THREADS is unset, OpenBLAS's. st_blas_num_threads: OpenBLAS's thread count, -1
 * without OpenBLAS. */
st_err st_init(void);
st_err st_build_info(char **version, int *cuda_build, char **blas);
st_err st_manual_seed(uint64_t seed);
st_err st_set_num_threads(int n);
st_err st_get_num_threads(int *n);
st_err st_blas_num_threads(int *n);
st_err st_cuda_device_count(int *n);
st_err st_set_grad_enabled(int enabled);
st_err st_is_grad_enabled(int *enabled);

/* ---- creation and data ---- */
st_err st_from_data(const void *data, const int64_t *shape, int ndim, int dtype, st_tensor *out);
st_err st_copy_data(st_tensor t, void *dst, int64_t nbytes);
st_err st_ndim(st_tensor t, int *ndim);
st_err st_shape(st_tensor t, int64_t *dims, int cap);
st_err st_dtype(st_tensor t, int *dtype);
st_err st_device(st_tensor t, int *type, int *index);
st_err st_item(st_tensor t, double *out);
st_err st_to(st_tensor t, int dev_type, int dev_index, int dtype, st_tensor *out);
st_err st_zeros(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, st_tensor *out);
st_err st_full(const int64_t *shape, int ndim, double value, int dtype, int dev_type, int dev_index, st_tensor *out);
st_err st_arange(double start, double end, double step, int dtype, int dev_type, int dev_index, st_tensor *out);
st_err st_rand(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, st_tensor *out);
st_err st_randn(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, st_tensor *out);
st_err st_randperm(int64_t n, int dtype, int dev_type, int dev_index, st_tensor *out);

/* ---- elementwise, one input ---- */
st_err st_neg(st_tensor a, st_tensor *out);
st_err st_abs(st_tensor a, st_tensor *out);
st_err st_exp(st_tensor a, st_tensor *out);
st_err st_log(st_tensor a, st_tensor *out);
st_err st_sqrt(st_tensor a, st_tensor *out);
st_err st_relu(st_tensor a, st_tensor *out);
st_err st_tanh(st_tensor a, st_tensor *out);
st_err st_sigmoid(st_tensor a, st_tensor *out);
st_err st_contiguous(st_tensor a, st_tensor *out);
st_err st_detach(st_tensor a, st_tensor *out);
st_err st_clone(st_tensor a, st_tensor *out);
st_err st_logical_not(st_tensor a, st_tensor *out);

/* ---- elementwise, two tensors (op: see enum st_binop) ---- */
enum st_binop { ST_ADD, ST_SUB, ST_MUL, ST_DIV, ST_POW, ST_EQ, ST_NE, ST_LT, ST_LE, ST_GT, ST_GE,
                ST_MAXIMUM, ST_MINIMUM, ST_MATMUL, ST_LOGICAL_AND, ST_LOGICAL_OR };
st_err st_binary(int op, st_tensor a, st_tensor b, st_tensor *out);
/* tensor (op) scalar; ST_MATMUL, ST_MAXIMUM, ST_MINIMUM and logical ops are not valid here */
st_err st_binary_scalar(int op, st_tensor a, double s, st_tensor *out);
/* scalar - tensor */
st_err st_rsub_scalar(st_tensor a, double s, st_tensor *out);
st_err st_clamp(st_tensor a, int has_min, double min, int has_max, double max, st_tensor *out);
st_err st_where(st_tensor cond, st_tensor a, st_tensor b, st_tensor *out);

/* ---- reductions ---- */
st_err st_sum(st_tensor a, const int64_t *dims, int ndims, int keepdim, st_tensor *out);
st_err st_mean(st_tensor a, const int64_t *dims, int ndims, int keepdim, st_tensor *out);
st_err st_max_all(st_tensor a, st_tensor *out);
st_err st_min_all(st_tensor a, st_tensor *out);
st_err st_max_dim(st_tensor a, int64_t dim, int keepdim, st_tensor *values, st_tensor *indices);
st_err st_argmax(st_tensor a, int64_t dim, int keepdim, st_tensor *out);
st_err st_norm(st_tensor a, double p, const int64_t *dims, int ndims, int keepdim, st_tensor *out);
st_err st_sort(st_tensor a, int64_t dim, int descending, st_tensor *values, st_tensor *indices);
st_err st_softmax(st_tensor a, int64_t dim, st_tensor *out);
st_err st_log_softmax(st_tensor a, int64_t dim, st_tensor *out);
st_err st_dropout(st_tensor a, double p, int train, st_tensor *out);

/* ---- shape and indexing ---- */
st_err st_cat(const st_tensor *ts, int n, int64_t dim, st_tensor *out);
st_err st_stack(const st_tensor *ts, int n, int64_t dim, st_tensor *out);
st_err st_view(st_tensor a, const int64_t *shape, int ndim, st_tensor *out);
st_err st_reshape(st_tensor a, const int64_t *shape, int ndim, st_tensor *out);
st_err st_expand(st_tensor a, const int64_t *shape, int ndim, st_tensor *out);
st_err st_transpose(st_tensor a, int64_t d0, int64_t d1, st_tensor *out);
st_err st_permute(st_tensor a, const int64_t *dims, int ndims, st_tensor *out);
st_err st_squeeze(st_tensor a, int has_dim, int64_t dim, st_tensor *out);
st_err st_unsqueeze(st_tensor a, int64_t dim, st_tensor *out);
st_err st_index_select(st_tensor a, int64_t dim, st_tensor index, st_tensor *out);
st_err st_gather(st_tensor a, int64_t dim, st_tensor index, st_tensor *out);
st_err st_narrow(st_tensor a, int64_t dim, int64_t start, int64_t length, st_tensor *out);
st_err st_masked_fill(st_tensor a, st_tensor mask, double value, st_tensor *out);

/* ---- autograd ---- */
st_err st_set_requires_grad(st_tensor t, int requires_grad);
st_err st_requires_grad(st_tensor t, int *requires);
st_err st_backward(st_tensor t, st_tensor grad, int retain_graph);
/* *out is NULL when the gradient is undefined */
st_err st_grad(st_tensor t, st_tensor *out);
st_err st_zero_grad(st_tensor t, int set_to_none);
/* t.set_data(src): t keeps its identity (and autograd leaf status) but takes src's data */
st_err st_set_data(st_tensor t, st_tensor src);

/* ---- in place: autograd records them when grad mode is on (a leaf that requires grad is
 * refused, as in PyTorch); optimizers and initialisation call them with grad mode off ---- */
st_err st_add_(st_tensor t, st_tensor other, double alpha);
st_err st_mul_(st_tensor t, st_tensor other);
st_err st_mul_scalar_(st_tensor t, double s);
st_err st_add_scalar_(st_tensor t, double s);
st_err st_addcmul_(st_tensor t, st_tensor a, st_tensor b, double value);
st_err st_addcdiv_(st_tensor t, st_tensor a, st_tensor b, double value);
st_err st_copy_(st_tensor t, st_tensor src);
st_err st_fill_(st_tensor t, double value);
st_err st_uniform_(st_tensor t, double from, double to);
st_err st_normal_(st_tensor t, double mean, double std);

/* ---- neural network functions ---- */
st_err st_linear(st_tensor x, st_tensor w, st_tensor b, st_tensor *out);
st_err st_embedding(st_tensor w, st_tensor idx, int64_t padding_idx, st_tensor *out);
/* mode: enum st_rnn_mode. params: per layer and direction
 * w_ih, w_hh[, b_ih, b_hh]. hx: h0 (and c0 for LSTM). *c_n is NULL except for LSTM.
 * fused: run an LSTM or GRU on CPU tensors with seqtorch's fused kernels (rnn_cpu.h) instead
 * of at::lstm / at::gru; RNN modes and other devices ignore it. */
st_err st_rnn(int mode, st_tensor input, const st_tensor *hx, int nhx, const st_tensor *params, int nparams,
              int has_biases, int64_t num_layers, double dropout, int train, int bidirectional,
              int batch_first, int fused, st_tensor *output, st_tensor *h_n, st_tensor *c_n);
st_err st_rnn_packed(int mode, st_tensor data, st_tensor batch_sizes, const st_tensor *hx, int nhx,
                     const st_tensor *params, int nparams, int has_biases, int64_t num_layers,
                     double dropout, int train, int bidirectional, int fused, st_tensor *output,
                     st_tensor *h_n, st_tensor *c_n);
st_err st_pack_padded(st_tensor input, st_tensor lengths, int batch_first, st_tensor *data,
                      st_tensor *batch_sizes);
st_err st_pad_packed(st_tensor data, st_tensor batch_sizes, int batch_first, double padding_value,
                     int64_t total_length, st_tensor *padded, st_tensor *lengths);

/* ---- losses (reduction: enum st_reduction) ---- */
st_err st_cross_entropy(st_tensor input, st_tensor target, st_tensor weight, int reduction,
                        int64_t ignore_index, double label_smoothing, st_tensor *out);
st_err st_nll_loss(st_tensor input, st_tensor target, st_tensor weight, int reduction,
                   int64_t ignore_index, st_tensor *out);
st_err st_mse_loss(st_tensor input, st_tensor target, int reduction, st_tensor *out);
st_err st_l1_loss(st_tensor input, st_tensor target, int reduction, st_tensor *out);
st_err st_bce_with_logits(st_tensor input, st_tensor target, st_tensor weight, st_tensor pos_weight,
                          int reduction, st_tensor *out);
st_err st_triplet_margin_loss(st_tensor anchor, st_tensor positive, st_tensor negative, double margin,
                              double p, double eps, int swap, int reduction, st_tensor *out);
st_err st_pairwise_distance(st_tensor a, st_tensor b, double p, double eps, int keepdim, st_tensor *out);

/* ---- serialization: a str->tensor dict in PyTorch's torch.save zip format ---- */
st_err st_save_dict(const char *path, const char *const *names, const st_tensor *ts, int n);
/* *names and *ts are malloc'd arrays (NULL when *n == 0); free with st_free_names and st_free_array */
st_err st_load_dict(const char *path, char ***names, st_tensor **ts, int *n);
void st_free_names(char **names, int n);
void st_free_array(void *p);

/* ---- boxed calls (boxed.cpp): any operator by schema, through libtorch's dispatcher ----
 * st_op_find looks an operator up by name ("aten::topk") and overload name ("" for the
 * default); *out is NULL when libtorch has no such operator, and *schema (malloc'd, freed with
 * st_free_err) then lists the overloads the name has, one a line (empty when none). A found
 * handle lives as long as the process (callers cache it); *schema is then its schema.
 * st_op_call converts args[0..nargs) to the schema's argument types (trailing arguments left out
 * take the schema's defaults), calls the operator through the dispatcher (autograd included),
 * and writes its results into results[0..cap); *nresults says how many. List and string
 * arguments point into the pools: .i is the offset of the first element, .n the count (bool
 * lists in ints, strings in bytes). Results hold new tensor handles (ST_V_TENSOR), or ST_V_ALIAS
 * with .i the index of the argument an in-place op wrote and returned (no new handle); lists
 * and strings in .p are malloc'd (st_free_array), their tensors owned by the caller. */
typedef struct st_op_s *st_op;
enum st_value_tag { ST_V_NONE = 0, ST_V_TENSOR = 1, ST_V_INT = 2, ST_V_DOUBLE = 3, ST_V_BOOL = 4,
                    ST_V_STRING = 5, ST_V_INT_LIST = 6, ST_V_DOUBLE_LIST = 7, ST_V_BOOL_LIST = 8,
                    ST_V_TENSOR_LIST = 9, ST_V_DTYPE = 10, ST_V_DEVICE = 11, ST_V_LAYOUT = 12,
                    ST_V_MEMORY_FORMAT = 13, ST_V_ALIAS = 14 };
/* One value: tag selects the field (ints, bools, dtypes, layouts, memory formats in i; a
 * device's type in i and index in n). */
typedef struct st_value {
  int32_t tag;
  int32_t n;
  int64_t i;
  double d;
  st_tensor t;
  void *p;
} st_value;
st_err st_op_find(const char *name, const char *overload, st_op *out, char **schema);
st_err st_op_call(st_op op, const st_value *args, int nargs, const int64_t *ints, const double *dbls,
                  const st_tensor *tensors, const char *bytes, st_value *results, int cap, int *nresults);

/* ---- TorchScript modules (jit.cpp): torch::jit::load, methods called with IValues ----
 * Values travel as st_value cells (the boxed calls' tags, same meanings) with three more tags
 * for trees, flattened in pre-order: a ST_V_TUPLE or ST_V_LIST cell with n children, or a
 * ST_V_DICT cell with n key/value pairs (2n subtrees, key first), is followed by its children's
 * cells. A list's .i is the tag every element has (ST_V_TENSOR, ST_V_INT, ST_V_DOUBLE, ST_V_BOOL,
 * ST_V_STRING) or 0 (other or mixed), a dict's .i its keys' tag likewise; both only in results.
 * Arguments use only ST_V_NONE, TENSOR, INT, DOUBLE, BOOL, STRING (bytes in the bytes pool: .i
 * the offset, .n the length), DEVICE and the tree tags; they are converted to the types of
 * the method's schema (a TUPLE or LIST cell fits a tuple or a list argument alike), and
 * trailing arguments left out take the schema's defaults.
 * st_jit_load reads a TorchScript archive, its tensors onto device (dev_type -1: where they were
 * saved), as torch.jit.load(path, map_location). *methods (malloc'd, st_free_err) lists the
 * module's methods, one "name<TAB>schema" line each, the schema without self.
 * st_jit_call calls method with the argument trees in args[0..ncells) and writes the result
 * as one tree into *out (malloc'd, *nout cells; free it with st_free_array); its tensors are new
 * handles and its strings' .p malloc'd (st_free_array), all owned by the caller. When the
 * module has no such method, *out is NULL and no error is returned.
 * st_jit_named lists parameters (buffers = 0) or buffers (1) recursively with their state_dict
 * names; the handles are new and share the module's tensors (an in-place update through one is
 * the module's). Free the arrays with st_free_names and st_free_array. */
typedef struct st_jit_s *st_jit;
enum st_value_tree_tag { ST_V_TUPLE = 15, ST_V_LIST = 16, ST_V_DICT = 17 };
st_err st_jit_load(const char *path, int dev_type, int dev_index, st_jit *out, char **methods);
st_err st_jit_call(st_jit m, const char *method, const st_value *args, int ncells, const char *bytes,
                   st_value **out, int *nout);
st_err st_jit_set_training(st_jit m, int train);
st_err st_jit_is_training(st_jit m, int *train);
st_err st_jit_named(st_jit m, int buffers, char ***names, st_tensor **ts, int *n);
st_err st_jit_save(st_jit m, const char *path);
void st_jit_free(st_jit m);

/* ---- distributed (dist.cpp): c10d stores, process groups and DDP's Reducer ----
 * Built with the shim when the libtorch has c10d with Gloo (find-libtorch.sh: ST_WITH_GLOO);
 * otherwise every function below fails with a message saying so, and st_dist_features
 * reports 0. Handles are owned by the caller and freed with the matching st_*_free. */
typedef struct st_store_s *st_store;
typedef struct st_pg_s *st_pg;
typedef struct st_reducer_s *st_reducer;
/* reduction operations: c10d::ReduceOp values (Gloo has no AVG: st_pg_all_reduce sums and
 * divides floating-point tensors by the group size) */
enum st_reduce_op { ST_REDUCE_SUM = 0, ST_REDUCE_AVG = 1, ST_REDUCE_PRODUCT = 2, ST_REDUCE_MIN = 3,
                    ST_REDUCE_MAX = 4 };
/* st_dist_features bits: what this shim was built with */
enum st_dist_feature { ST_DIST_GLOO = 1, ST_DIST_NCCL = 2, ST_DIST_REDUCER = 4, ST_DIST_LISTEN_FD = 8 };
st_err st_dist_features(int *features);
/* A TCPStore: a client of host:port, or (is_server) also the server. listen_fd >= 0 hands the
 * server a socket the caller bound and listens on (ST_DIST_LISTEN_FD only); -1: libtorch binds. */
st_err st_store_tcp(const char *host, int port, int is_server, int world_size, int64_t timeout_ms,
                    int listen_fd, st_store *out);
/* A FileStore on path (created if missing); num_workers -1 leaves the file in place at the end. */
st_err st_store_file(const char *path, int num_workers, int64_t timeout_ms, st_store *out);
/* A PrefixStore: every key of base prefixed with "prefix/". base stays owned by the caller. */
st_err st_store_prefix(st_store base, const char *prefix, st_store *out);
st_err st_store_set_timeout(st_store s, int64_t timeout_ms);
st_err st_store_set(st_store s, const char *key, const void *value, int64_t n);
/* st_store_get waits (up to the store's timeout) for key; *value is malloc'd (st_free_array). */
st_err st_store_get(st_store s, const char *key, void **value, int64_t *n);
st_err st_store_add(st_store s, const char *key, int64_t delta, int64_t *out);
void st_store_free(st_store s);
/* A Gloo process group over store (ranks 0..size-1). Its transport binds iface (a network
 * interface name) when not empty, else host's address when not empty, else the address the
 * machine's hostname resolves to. */
st_err st_pg_gloo(st_store store, int rank, int size, const char *iface, const char *host,
                  int64_t timeout_ms, st_pg *out);
/* An NCCL process group (CUDA tensors; ST_DIST_NCCL only). */
st_err st_pg_nccl(st_store store, int rank, int size, int64_t timeout_ms, st_pg *out);
/* Collectives, in place, waiting for completion (or the group's timeout). */
st_err st_pg_all_reduce(st_pg pg, const st_tensor *ts, int n, int op);
st_err st_pg_broadcast(st_pg pg, const st_tensor *ts, int n, int root);
/* st_pg_all_gather fills outs[0..size-1] with every rank's in. */
st_err st_pg_all_gather(st_pg pg, const st_tensor *outs, int size, st_tensor in);
st_err st_pg_barrier(st_pg pg);
/* c10d::broadcast_coalesced: ts (flattened into buffers of up to buffer_bytes) from root. */
st_err st_pg_broadcast_coalesced(st_pg pg, const st_tensor *ts, int n, int64_t buffer_bytes, int root);
void st_pg_free(st_pg pg);
/* DDP's Reducer over params (leaf tensors that require grad), with PyTorch's bucket assignment
 * (first bucket first_bucket_bytes, the others bucket_bytes, in reverse parameter order). */
st_err st_reducer_new(st_pg pg, const st_tensor *params, int n, int64_t bucket_bytes,
                      int64_t first_bucket_bytes, st_reducer *out);
/* st_reducer_prepare: what DistributedDataParallel.forward does before a backward that syncs
 * (prepare_for_forward, rebuild_buckets, prepare_for_backward): the next backward averages the
 * parameters' gradients over the group as they become ready. */
st_err st_reducer_prepare(st_reducer r);
void st_reducer_free(st_reducer r);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
