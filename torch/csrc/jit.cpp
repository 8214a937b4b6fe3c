// jit.cpp: TorchScript modules (shim.h, "TorchScript modules"): torch::jit::load, methods
// called with arguments converted to the types of their schema, results returned as a
// flattened tree of st_value cells. Written against the API that libtorch 1.13 and 2.x share.
#include "shim.h"

#include "handles.h"

#include <torch/script.h>

#include <sstream>
#include <string>
#include <vector>

using namespace st;

struct st_jit_s {
  torch::jit::Module m;
};

namespace {

// The Go type a cell came from, for error messages.
std::string go_name(const st_value &v) {
  switch (v.tag) {
    case ST_V_NONE: return "nil";
    case ST_V_TENSOR: return "*torch.Tensor";
    case ST_V_INT: return "int64";
    case ST_V_DOUBLE: return "float64";
    case ST_V_BOOL: return "bool";
    case ST_V_STRING: return "string";
    case ST_V_DEVICE: return "torch.Device";
    case ST_V_TUPLE: return "[]any of " + std::to_string(v.n);
    case ST_V_LIST: return "list of " + std::to_string(v.n);
    case ST_V_DICT: return "map of " + std::to_string(v.n);
  }
  return "value (tag " + std::to_string(v.tag) + ")";
}

// reader walks the argument cells in pre-order.
struct reader {
  const st_value *cells;
  int n;
  int pos;
  const char *bytes;
  const st_value &next() {
    if (pos >= n) throw std::invalid_argument("malformed argument cells");
    return cells[pos++];
  }
  // skip passes over the subtree whose root was just read.
  void skip(const st_value &v) {
    int k = v.tag == ST_V_DICT ? 2 * v.n : (v.tag == ST_V_TUPLE || v.tag == ST_V_LIST) ? v.n : 0;
    for (int i = 0; i < k; i++) skip(next());
  }
};

struct arg_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

[[noreturn]] void mismatch(const std::string &where, const c10::TypePtr &ty, const st_value &v) {
  throw arg_error(where + ": a " + ty->annotation_str() + " cannot take a Go " + go_name(v));
}

bool is_tree(const st_value &v) { return v.tag == ST_V_TUPLE || v.tag == ST_V_LIST; }

c10::IValue convert(const c10::TypePtr &ty, reader &r, const std::string &where);

// infer converts a value for an argument typed Any (no schema to follow).
c10::IValue infer(reader &r, const std::string &where) {
  const st_value &v = r.next();
  switch (v.tag) {
    case ST_V_NONE: return c10::IValue();
    case ST_V_TENSOR:
      if (v.t == nullptr) throw arg_error(where + ": nil tensor");
      return c10::IValue(v.t->t);
    case ST_V_INT: return c10::IValue(v.i);
    case ST_V_DOUBLE: return c10::IValue(v.d);
    case ST_V_BOOL: return c10::IValue(v.i != 0);
    case ST_V_STRING: return c10::IValue(std::string(r.bytes + v.i, static_cast<size_t>(v.n)));
    case ST_V_TUPLE: {
      std::vector<c10::IValue> e;
      for (int k = 0; k < v.n; k++) e.push_back(infer(r, where + "[" + std::to_string(k) + "]"));
      return c10::IValue(c10::ivalue::Tuple::create(std::move(e)));
    }
  }
  throw arg_error(where + ": an Any argument cannot take a Go " + go_name(v));
}

c10::IValue convert(const c10::TypePtr &ty, reader &r, const std::string &where) {
  const int start = r.pos;
  const st_value &v = r.next();
  switch (ty->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.tag == ST_V_NONE) return c10::IValue();
      r.pos = start;
      return convert(ty->containedTypes()[0], r, where);
    case c10::TypeKind::AnyType:
      r.pos = start;
      return infer(r, where);
    case c10::TypeKind::NoneType:
      if (v.tag == ST_V_NONE) return c10::IValue();
      break;
    case c10::TypeKind::TensorType:
      if (v.tag == ST_V_TENSOR) {
        if (v.t == nullptr) throw arg_error(where + ": nil tensor");
        return c10::IValue(v.t->t);
      }
      break;
    case c10::TypeKind::ListType:
      if (is_tree(v)) {
        const c10::TypePtr &elem = ty->containedTypes()[0];
        c10::impl::GenericList l(elem);
        l.reserve(static_cast<size_t>(v.n));
        for (int k = 0; k < v.n; k++) l.push_back(convert(elem, r, where + "[" + std::to_string(k) + "]"));
        return c10::IValue(l);
      }
      break;
    case c10::TypeKind::TupleType:
      if (is_tree(v)) {
        const auto &elems = ty->containedTypes();
        if (static_cast<size_t>(v.n) != elems.size()) {
          throw arg_error(where + ": a " + ty->annotation_str() + " takes " + std::to_string(elems.size()) +
                          " elements, got a Go " + go_name(v));
        }
        std::vector<c10::IValue> e;
        e.reserve(elems.size());
        for (size_t k = 0; k < elems.size(); k++) e.push_back(convert(elems[k], r, where + "[" + std::to_string(k) + "]"));
        return c10::IValue(c10::ivalue::Tuple::create(std::move(e)));
      }
      break;
    case c10::TypeKind::DictType:
      if (v.tag == ST_V_DICT) {
        const c10::TypePtr &kt = ty->containedTypes()[0];
        const c10::TypePtr &vt = ty->containedTypes()[1];
        c10::impl::GenericDict d(kt, vt);
        for (int k = 0; k < v.n; k++) {
          c10::IValue key = convert(kt, r, where + " (a key)");
          std::string kw = where + "[" + (key.isString() ? "\"" + key.toStringRef() + "\"" : std::to_string(k)) + "]";
          c10::IValue val = convert(vt, r, kw);
          d.insert_or_assign(std::move(key), std::move(val));
        }
        return c10::IValue(d);
      }
      break;
    default:
      break;
  }
  c10::IValue out;
  if (leaf_ivalue(ty->kind(), v, r.bytes, &out)) return out;
  mismatch(where, ty, v);
}

// schema_text formats a method's schema without self: "forward(Tensor ids, Tensor lengths) -> Tensor".
std::string schema_text(const c10::FunctionSchema &s) {
  std::ostringstream os;
  os << s.name() << "(";
  const auto &args = s.arguments();
  for (size_t i = 1; i < args.size(); i++) {
    if (i > 1) os << ", ";
    os << args[i].type()->annotation_str() << " " << args[i].name();
    if (args[i].default_value().has_value()) os << "=" << *args[i].default_value();
  }
  os << ") -> ";
  const auto &rets = s.returns();
  if (rets.size() == 1) {
    os << rets[0].type()->annotation_str();
  } else {
    os << "(";
    for (size_t i = 0; i < rets.size(); i++) os << (i > 0 ? ", " : "") << rets[i].type()->annotation_str();
    os << ")";
  }
  return os.str();
}

char *malloc_str(const std::string &s) {
  auto *p = static_cast<char *>(std::malloc(s.empty() ? 1 : s.size()));
  if (p == nullptr) throw std::bad_alloc();
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p;
}

int elem_tag(const c10::TypePtr &t) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return ST_V_TENSOR;
    case c10::TypeKind::IntType: return ST_V_INT;
    case c10::TypeKind::FloatType: return ST_V_DOUBLE;
    case c10::TypeKind::BoolType: return ST_V_BOOL;
    case c10::TypeKind::StringType: return ST_V_STRING;
    default: return 0;
  }
}

// free_cells releases what cells hold (tensor handles, strings).
void free_cells(std::vector<st_value> &cells) {
  for (st_value &c : cells) {
    if (c.tag == ST_V_TENSOR) st_free(c.t);
    if (c.tag == ST_V_STRING) std::free(c.p);
  }
  cells.clear();
}

// flatten appends v's tree to out in pre-order.
void flatten(const c10::IValue &v, std::vector<st_value> &out, const std::string &where) {
  st_value c{};
  if (v.isNone()) {
    c.tag = ST_V_NONE;
    out.push_back(c);
  } else if (v.isTensor()) {
    const at::Tensor &t = v.toTensor();
    c.tag = t.defined() ? ST_V_TENSOR : ST_V_NONE;
    out.push_back(c);
    if (t.defined()) out.back().t = wrap(t);
  } else if (v.isInt()) {
    c.tag = ST_V_INT;
    c.i = v.toInt();
    out.push_back(c);
  } else if (v.isDouble()) {
    c.tag = ST_V_DOUBLE;
    c.d = v.toDouble();
    out.push_back(c);
  } else if (v.isBool()) {
    c.tag = ST_V_BOOL;
    c.i = v.toBool() ? 1 : 0;
    out.push_back(c);
  } else if (v.isString()) {
    const std::string &s = v.toStringRef();
    c.tag = ST_V_STRING;
    c.n = static_cast<int32_t>(s.size());
    out.push_back(c);
    out.back().p = malloc_str(s);
  } else if (v.isDevice()) {
    c.tag = ST_V_DEVICE;
    c.i = static_cast<int64_t>(v.toDevice().type());
    c.n = v.toDevice().index();
    out.push_back(c);
  } else if (v.isTuple()) {
    const auto &e = v.toTupleRef().elements();
    c.tag = ST_V_TUPLE;
    c.n = static_cast<int32_t>(e.size());
    out.push_back(c);
    for (size_t k = 0; k < e.size(); k++) flatten(e[k], out, where + "[" + std::to_string(k) + "]");
  } else if (v.isList()) {
    c10::impl::GenericList l = v.toList();
    c.tag = ST_V_LIST;
    c.n = static_cast<int32_t>(l.size());
    c.i = elem_tag(l.elementType());
    out.push_back(c);
    for (size_t k = 0; k < l.size(); k++) flatten(l.get(k), out, where + "[" + std::to_string(k) + "]");
  } else if (v.isGenericDict()) {
    c10::impl::GenericDict d = v.toGenericDict();
    c.tag = ST_V_DICT;
    c.n = static_cast<int32_t>(d.size());
    c.i = elem_tag(d.keyType());
    out.push_back(c);
    for (const auto &kv : d) {
      flatten(kv.key(), out, where + " (a key)");
      flatten(kv.value(), out, where + "[...]");
    }
  } else {
    throw std::invalid_argument(where + " is a " + v.type()->annotation_str() +
                                ", which Go cannot take (tensors, lists, tuples, dicts, int, float, bool, str, None)");
  }
}

}  // namespace

extern "C" {

st_err st_jit_load(const char *path, int dev_type, int dev_index, st_jit *out, char **methods) {
  *out = nullptr;
  *methods = nullptr;
  return guard([&] {
    c10::optional<c10::Device> dev;
    if (dev_type >= 0) dev = c10::Device(static_cast<c10::DeviceType>(dev_type), static_cast<c10::DeviceIndex>(dev_index));
    auto *h = new st_jit_s{torch::jit::load(std::string(path), dev)};
    try {
      std::ostringstream os;
      for (const torch::jit::Method &m : h->m.get_methods()) {
        os << m.name() << "\t" << schema_text(m.function().getSchema()) << "\n";
      }
      *methods = dup(os.str());
    } catch (...) {
      delete h;
      throw;
    }
    *out = h;
  });
}

st_err st_jit_call(st_jit m, const char *method, const st_value *args, int ncells, const char *bytes,
                   st_value **out, int *nout) {
  *out = nullptr;
  *nout = 0;
  return guard([&] {
    if (m == nullptr) throw std::invalid_argument("nil module");
    c10::optional<torch::jit::Method> fn = m->m.find_method(method);
    if (!fn.has_value()) return;
    const c10::FunctionSchema &s = fn->function().getSchema();
    const auto &params = s.arguments();  // params[0] is self
    reader r{args, ncells, 0, bytes};
    std::vector<c10::IValue> stack;
    stack.reserve(params.size());
    size_t given = 0;
    while (r.pos < ncells) {
      size_t i = given + 1;
      if (i >= params.size()) {
        // count the rest for the message
        size_t extra = given;
        while (r.pos < ncells) {
          r.skip(r.next());
          extra++;
        }
        throw arg_error("takes " + std::to_string(params.size() - 1) + " arguments, got " + std::to_string(extra));
      }
      const c10::Argument &a = params[i];
      stack.push_back(convert(a.type(), r, "argument " + std::to_string(i) + " (" + a.name() + ")"));
      given++;
    }
    for (size_t i = given + 1; i < params.size(); i++) {
      const c10::Argument &a = params[i];
      if (!a.default_value().has_value()) {
        throw arg_error("takes " + std::to_string(params.size() - 1) + " arguments, got " + std::to_string(given) +
                        " (argument " + std::to_string(i) + ", " + a.type()->annotation_str() + " " + a.name() +
                        ", has no default)");
      }
      stack.push_back(*a.default_value());
    }
    c10::IValue res = (*fn)(std::move(stack));
    std::vector<st_value> cells;
    try {
      flatten(res, cells, "the result");
      auto *p = static_cast<st_value *>(std::malloc(cells.size() * sizeof(st_value)));
      if (p == nullptr) throw std::bad_alloc();
      std::memcpy(p, cells.data(), cells.size() * sizeof(st_value));
      *out = p;
      *nout = static_cast<int>(cells.size());
    } catch (...) {
      free_cells(cells);
      throw;
    }
  });
}

st_err st_jit_set_training(st_jit m, int train) {
  return guard([&] {
    if (m == nullptr) throw std::invalid_argument("nil module");
    m->m.train(train != 0);
  });
}

st_err st_jit_is_training(st_jit m, int *train) {
  *train = 0;
  return guard([&] {
    if (m == nullptr) throw std::invalid_argument("nil module");
    *train = m->m.is_training() ? 1 : 0;
  });
}

st_err st_jit_named(st_jit m, int buffers, char ***names, st_tensor **ts, int *n) {
  *names = nullptr;
  *ts = nullptr;
  *n = 0;
  return guard([&] {
    if (m == nullptr) throw std::invalid_argument("nil module");
    std::vector<std::string> ns;
    std::vector<at::Tensor> vs;
    if (buffers != 0) {
      for (const auto &b : m->m.named_buffers(true)) {
        ns.push_back(b.name);
        vs.push_back(b.value);
      }
    } else {
      for (const auto &p : m->m.named_parameters(true)) {
        ns.push_back(p.name);
        vs.push_back(p.value);
      }
    }
    if (ns.empty()) return;
    auto **np = static_cast<char **>(std::calloc(ns.size(), sizeof(char *)));
    auto *tp = static_cast<st_tensor *>(std::calloc(ns.size(), sizeof(st_tensor)));
    if (np == nullptr || tp == nullptr) {
      std::free(np);
      std::free(tp);
      throw std::bad_alloc();
    }
    for (size_t k = 0; k < ns.size(); k++) {
      np[k] = dup(ns[k]);
      tp[k] = wrap(vs[k]);
    }
    *names = np;
    *ts = tp;
    *n = static_cast<int>(ns.size());
  });
}

st_err st_jit_save(st_jit m, const char *path) {
  return guard([&] {
    if (m == nullptr) throw std::invalid_argument("nil module");
    m->m.save(std::string(path));
  });
}

void st_jit_free(st_jit m) { delete m; }

}  // extern "C"
