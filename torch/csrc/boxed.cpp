// boxed.cpp: any ATen operator by schema name, through libtorch's dispatcher (shim.h, "boxed
// calls"). Arguments arrive as st_value cells and are converted to the IValues the operator's
// schema asks for; trailing arguments that the caller leaves out take the schema's defaults.
// Autograd, in-place semantics and device dispatch are the dispatcher's, as for any PyTorch call.
#include "shim.h"

#include "handles.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <vector>

using namespace st;

struct st_op_s {
  c10::OperatorHandle h;
  std::vector<int> ret_alias;  // per return: the argument an in-place op wrote and returns, or -1
};

namespace {

// The pools a call's list and string arguments point into (st_value.i is an offset, .n a count).
struct pools {
  const int64_t *ints;
  const double *dbls;
  const st_tensor *tensors;
  const char *bytes;
};

const char *tag_name(int tag) {
  switch (tag) {
    case ST_V_NONE: return "None";
    case ST_V_TENSOR: return "Tensor";
    case ST_V_INT: return "int";
    case ST_V_DOUBLE: return "float";
    case ST_V_BOOL: return "bool";
    case ST_V_STRING: return "str";
    case ST_V_INT_LIST: return "int[]";
    case ST_V_DOUBLE_LIST: return "float[]";
    case ST_V_BOOL_LIST: return "bool[]";
    case ST_V_TENSOR_LIST: return "Tensor[]";
    case ST_V_DTYPE: return "ScalarType";
    case ST_V_DEVICE: return "Device";
    case ST_V_LAYOUT: return "Layout";
    case ST_V_MEMORY_FORMAT: return "MemoryFormat";
  }
  return "unknown value";
}

[[noreturn]] void bad_arg(const c10::Argument &a, size_t i, const st_value &v) {
  std::ostringstream os;
  os << "argument " << i + 1 << " (" << a.type()->annotation_str() << " " << a.name() << "): cannot take a Go "
     << tag_name(v.tag);
  throw std::invalid_argument(os.str());
}

std::vector<int64_t> int_list(const st_value &v, const pools &p) {
  return std::vector<int64_t>(p.ints + v.i, p.ints + v.i + v.n);
}

at::Tensor tensor_of(const st_value &v) {
  if (v.t == nullptr) throw std::invalid_argument("nil tensor");
  return v.t->t;
}

// element converts v for a list's element type (the list arrived as a Go slice).
c10::IValue to_list(const c10::Argument &a, size_t i, const c10::TypePtr &elem, const st_value &v, const pools &p) {
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (v.tag == ST_V_INT_LIST) return c10::IValue(int_list(v, p));
      if (v.tag == ST_V_INT) {  // int[N] takes one int for all N, as in PyTorch
        return c10::IValue(std::vector<int64_t>(static_cast<size_t>(a.N().value_or(1)), v.i));
      }
      break;
    case c10::TypeKind::FloatType:
      if (v.tag == ST_V_DOUBLE_LIST) return c10::IValue(std::vector<double>(p.dbls + v.i, p.dbls + v.i + v.n));
      if (v.tag == ST_V_INT_LIST) {
        std::vector<double> d(p.ints + v.i, p.ints + v.i + v.n);
        return c10::IValue(d);
      }
      break;
    case c10::TypeKind::BoolType:
      if (v.tag == ST_V_BOOL_LIST) {
        c10::List<bool> l;
        for (int k = 0; k < v.n; k++) l.push_back(p.ints[v.i + k] != 0);
        return c10::IValue(l);
      }
      break;
    case c10::TypeKind::TensorType:
      if (v.tag == ST_V_TENSOR_LIST) {
        c10::List<at::Tensor> l;
        l.reserve(static_cast<size_t>(v.n));
        for (int k = 0; k < v.n; k++) {
          st_tensor h = p.tensors[v.i + k];
          if (h == nullptr) throw std::invalid_argument("argument " + std::to_string(i + 1) + " (" + a.name() + "): nil tensor in a Tensor[]");
          l.push_back(h->t);
        }
        return c10::IValue(l);
      }
      break;
    case c10::TypeKind::OptionalType:
      if (v.tag == ST_V_TENSOR_LIST) {  // Tensor?[] (indexing): nil entries are None
        c10::List<c10::optional<at::Tensor>> l;
        for (int k = 0; k < v.n; k++) {
          st_tensor h = p.tensors[v.i + k];
          l.push_back(h == nullptr ? c10::optional<at::Tensor>() : c10::optional<at::Tensor>(h->t));
        }
        return c10::IValue(l);
      }
      break;
    default:
      break;
  }
  bad_arg(a, i, v);
}

// to_ivalue converts v to what argument a (of type ty) takes.
c10::IValue to_ivalue(const c10::Argument &a, size_t i, const c10::TypePtr &ty, const st_value &v, const pools &p) {
  switch (ty->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.tag == ST_V_NONE) return c10::IValue();
      return to_ivalue(a, i, ty->containedTypes()[0], v, p);
    case c10::TypeKind::TensorType:
      if (v.tag == ST_V_TENSOR) return c10::IValue(tensor_of(v));
      break;
    case c10::TypeKind::NumberType:  // Scalar: a Go bool too, as Python's True
      if (v.tag == ST_V_BOOL) return c10::IValue(v.i != 0);
      break;
    case c10::TypeKind::ListType:
      return to_list(a, i, ty->containedTypes()[0], v, p);
    default:
      break;
  }
  c10::IValue out;
  if (leaf_ivalue(ty->kind(), v, p.bytes, &out)) return out;
  bad_arg(a, i, v);
}

// write_alias returns the index of the argument that return r writes into and returns (an
// in-place op's self), or -1: Go hands back its own tensor instead of a new handle.
int write_alias(const c10::FunctionSchema &s, const c10::Argument &r) {
  const c10::AliasInfo *ri = r.alias_info();
  if (ri == nullptr || !ri->isWrite()) return -1;
  for (size_t k = 0; k < s.arguments().size(); k++) {
    const c10::AliasInfo *ai = s.arguments()[k].alias_info();
    if (ai != nullptr && ai->isWrite() && ai->beforeSets() == ri->beforeSets()) return static_cast<int>(k);
  }
  return -1;
}

template <class T>
T *malloc_copy(const T *src, size_t n) {
  auto *p = static_cast<T *>(std::malloc(n == 0 ? 1 : n * sizeof(T)));
  if (p == nullptr) throw std::bad_alloc();
  if (n > 0) std::memcpy(p, src, n * sizeof(T));
  return p;
}

// from_ivalue converts one result. Lists and strings are malloc'd (st_free_array).
void from_ivalue(const c10::IValue &v, st_value *out) {
  *out = st_value{};
  if (v.isNone()) {
    out->tag = ST_V_NONE;
  } else if (v.isTensor()) {
    const at::Tensor &t = v.toTensor();
    if (t.defined()) {
      out->tag = ST_V_TENSOR;
      out->t = wrap(t);
    } else {
      out->tag = ST_V_NONE;
    }
  } else if (v.isInt()) {
    out->tag = ST_V_INT;
    out->i = v.toInt();
  } else if (v.isDouble()) {
    out->tag = ST_V_DOUBLE;
    out->d = v.toDouble();
  } else if (v.isBool()) {
    out->tag = ST_V_BOOL;
    out->i = v.toBool() ? 1 : 0;
  } else if (v.isString()) {
    const std::string &s = v.toStringRef();
    out->tag = ST_V_STRING;
    out->n = static_cast<int32_t>(s.size());
    out->p = malloc_copy(s.data(), s.size());
  } else if (v.isIntList()) {
    auto l = v.toIntVector();
    out->tag = ST_V_INT_LIST;
    out->n = static_cast<int32_t>(l.size());
    out->p = malloc_copy(l.data(), l.size());
  } else if (v.isDoubleList()) {
    auto l = v.toDoubleVector();
    out->tag = ST_V_DOUBLE_LIST;
    out->n = static_cast<int32_t>(l.size());
    out->p = malloc_copy(l.data(), l.size());
  } else if (v.isTensorList() || v.isList()) {
    std::vector<st_tensor> hs;
    if (v.isTensorList()) {
      for (const at::Tensor &t : v.toTensorVector()) hs.push_back(wrap_opt(t));
    } else {
      for (const c10::IValue &e : v.toListRef()) {
        if (e.isNone()) {
          hs.push_back(nullptr);
        } else if (e.isTensor()) {
          hs.push_back(wrap_opt(e.toTensor()));
        } else {
          for (st_tensor h : hs) st_free(h);
          throw std::invalid_argument("result list of " + e.tagKind() + " is not supported");
        }
      }
    }
    out->tag = ST_V_TENSOR_LIST;
    out->n = static_cast<int32_t>(hs.size());
    out->p = malloc_copy(hs.data(), hs.size());
  } else if (v.isDevice()) {
    out->tag = ST_V_DEVICE;
    out->i = static_cast<int64_t>(v.toDevice().type());
    out->n = v.toDevice().index();
  } else {
    throw std::invalid_argument("result of type " + v.tagKind() + " is not supported");
  }
}

void free_results(st_value *res, int n) {
  for (int k = 0; k < n; k++) {
    if (res[k].tag == ST_V_TENSOR) st_free(res[k].t);
    if (res[k].tag == ST_V_TENSOR_LIST) {
      auto *hs = static_cast<st_tensor *>(res[k].p);
      for (int j = 0; j < res[k].n; j++) st_free(hs[j]);
    }
    std::free(res[k].p);
    res[k] = st_value{};
  }
}

}  // namespace

extern "C" {

st_err st_op_find(const char *name, const char *overload, st_op *out, char **schema) {
  return guard([&] {
    *out = nullptr;
    *schema = nullptr;
    auto h = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!h.has_value()) {
      // The overloads that exist under this name, for the caller's message.
      std::ostringstream os;
      for (const auto &n : c10::Dispatcher::singleton().getAllOpNames()) {
        if (n.name != name) continue;
        auto o = c10::Dispatcher::singleton().findSchema(n);
        if (o.has_value()) os << "\n" << o->schema();
      }
      *schema = dup(os.str());
      return;
    }
    std::vector<int> alias;
    for (const c10::Argument &r : h->schema().returns()) alias.push_back(write_alias(h->schema(), r));
    *out = new st_op_s{*h, std::move(alias)};
    std::ostringstream ss;
    ss << h->schema();
    *schema = dup(ss.str());
  });
}

st_err st_op_call(st_op op, const st_value *args, int nargs, const int64_t *ints, const double *dbls,
                  const st_tensor *tensors, const char *bytes, st_value *results, int cap, int *nresults) {
  *nresults = 0;
  return guard([&] {
    if (op == nullptr) throw std::invalid_argument("nil operator");
    const c10::FunctionSchema &s = op->h.schema();
    const auto &params = s.arguments();
    if (static_cast<size_t>(nargs) > params.size()) {
      throw std::invalid_argument("takes at most " + std::to_string(params.size()) + " arguments, got " +
                                  std::to_string(nargs));
    }
    if (s.returns().size() > static_cast<size_t>(cap)) throw std::invalid_argument("too many results");
    pools p{ints, dbls, tensors, bytes};
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); i++) {
      const c10::Argument &a = params[i];
      if (i < static_cast<size_t>(nargs)) {
        stack.push_back(to_ivalue(a, i, a.type(), args[i], p));
      } else if (a.default_value().has_value()) {
        stack.push_back(*a.default_value());
      } else {
        throw std::invalid_argument("missing argument " + std::to_string(i + 1) + " (" + a.type()->annotation_str() +
                                    " " + a.name() + ")");
      }
    }
    op->h.callBoxed(&stack);
    int n = static_cast<int>(stack.size());
    try {
      for (int k = 0; k < n; k++) {
        int alias = k < static_cast<int>(op->ret_alias.size()) ? op->ret_alias[k] : -1;
        if (alias >= 0 && stack[k].isTensor()) {
          results[k] = st_value{};
          results[k].tag = ST_V_ALIAS;
          results[k].i = alias;
        } else {
          from_ivalue(stack[k], &results[k]);
        }
        *nresults = k + 1;
      }
    } catch (...) {
      free_results(results, *nresults);
      *nresults = 0;
      throw;
    }
  });
}

}  // extern "C"
