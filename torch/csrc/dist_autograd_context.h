// dist_autograd_context.h: stands in for <torch/csrc/distributed/autograd/context/context.h>
// where a libtorch does not ship it (Debian 12's 1.13). c10d/reducer.hpp includes that header
// only for two names, and the Reducer uses them only by pointer. shim.mk copies this file to
// that path in a folder searched after the libtorch's own headers (-idirafter), so a libtorch
// that has the real header (2.x) uses it.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  // The same signature as the real header's, which reducer.hpp checks with is_same.
  using GradCallback = std::function<bool(at::Tensor &)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
