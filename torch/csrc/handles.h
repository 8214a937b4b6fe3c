// handles.h: what the shim's C++ files share (never included from C): the tensor handle behind
// st_tensor, and the conversions every extern "C" function uses to take handles in and to turn
// C++ exceptions into st_err strings.
#ifndef SEQTORCH_HANDLES_H
#define SEQTORCH_HANDLES_H

#include "shim.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct st_tensor_s {
  st_tensor_head head;  // first, so that Go reads it at the handle's address without a call
  at::Tensor t;
};

namespace st {

// dup returns a malloc'd copy of s (what st_err and returned strings are).
inline char *dup(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// guard runs f and converts exceptions into an error string (NULL when f succeeded).
template <class F>
st_err guard(F &&f) {
  try {
    f();
    return nullptr;
  } catch (const c10::Error &e) {
    return dup(e.what_without_backtrace());
  } catch (const std::exception &e) {
    return dup(e.what());
  } catch (...) {
    return dup("unknown C++ exception");
  }
}

// storage_nbytes returns the bytes of t's storage (0 for an undefined or storage-less tensor).
inline int64_t storage_nbytes(const at::Tensor &t) {
  return t.defined() && t.has_storage() ? static_cast<int64_t>(t.storage().nbytes()) : 0;
}
inline st_tensor wrap(at::Tensor t) {
  int64_t n = storage_nbytes(t);
  return new st_tensor_s{st_tensor_head{n}, std::move(t)};
}
inline st_tensor wrap_opt(const at::Tensor &t) { return t.defined() ? wrap(t) : nullptr; }
inline const at::Tensor &T(st_tensor h) {
  if (h == nullptr) throw std::invalid_argument("nil tensor");
  return h->t;
}
inline c10::optional<at::Tensor> opt(st_tensor h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}
inline at::IntArrayRef dims(const int64_t *p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
inline std::vector<at::Tensor> list(const st_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
  return v;
}

// leaf_ivalue converts a cell holding a number, bool, string or device to the IValue that a
// schema argument of kind k takes (ScalarType, Layout and MemoryFormat travel as ints), writing
// it to *out; it returns false when the cell does not fit k (the caller reports it). bytes is
// the string pool of the call. Boxed ATen calls and TorchScript methods share it.
inline bool leaf_ivalue(c10::TypeKind k, const st_value &v, const char *bytes, c10::IValue *out) {
  switch (k) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      if (v.tag != ST_V_INT && v.tag != ST_V_DTYPE && v.tag != ST_V_LAYOUT && v.tag != ST_V_MEMORY_FORMAT) return false;
      *out = c10::IValue(v.i);
      return true;
    case c10::TypeKind::FloatType:
      if (v.tag == ST_V_DOUBLE) *out = c10::IValue(v.d);
      else if (v.tag == ST_V_INT) *out = c10::IValue(static_cast<double>(v.i));
      else return false;
      return true;
    case c10::TypeKind::BoolType:
      if (v.tag != ST_V_BOOL) return false;
      *out = c10::IValue(v.i != 0);
      return true;
    case c10::TypeKind::NumberType:  // Scalar: an int stays an int, as in Python
      if (v.tag == ST_V_INT) *out = c10::IValue(v.i);
      else if (v.tag == ST_V_DOUBLE) *out = c10::IValue(v.d);
      else return false;
      return true;
    case c10::TypeKind::StringType:
      if (v.tag != ST_V_STRING) return false;
      *out = c10::IValue(std::string(bytes + v.i, static_cast<size_t>(v.n)));
      return true;
    case c10::TypeKind::DeviceObjType:
      if (v.tag == ST_V_DEVICE) {
        *out = c10::IValue(c10::Device(static_cast<c10::DeviceType>(v.i), static_cast<c10::DeviceIndex>(v.n)));
      } else if (v.tag == ST_V_STRING) {
        *out = c10::IValue(c10::Device(std::string(bytes + v.i, static_cast<size_t>(v.n))));
      } else {
        return false;
      }
      return true;
    default:
      return false;
  }
}

}  // namespace st

#endif
