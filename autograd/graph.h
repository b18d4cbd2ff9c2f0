#pragma once
// The dynamic autograd graph.
//
// Every differentiable op that sees an input with requires_grad records one
// Node: the inputs it must send gradients to, and a backward closure that
// maps the gradients of its outputs to the gradients of its inputs. backward()
// walks the nodes in reverse topological order, accumulates gradients where
// several paths meet, deposits them in the leaves' .grad, and frees the graph.
//
// A node must not hold its own outputs (that would be a reference cycle
// through grad_fn): ops save outputs with detach().
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mg {

using TensorList = std::vector<Tensor>;
// Receives one gradient per output (undefined where an output got none) and
// returns one gradient per input (undefined where an input needs none).
using BackwardFn = std::function<TensorList(const TensorList& grad_outputs)>;

struct Node {
  std::string name;
  TensorList inputs;
  int num_outputs = 1;
  BackwardFn backward;
};

// Gradient recording is on unless a NoGradGuard is alive on this thread.
bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when recording is on and some input requires grad.
bool needs_grad(const TensorList& inputs);

// Attaches a node producing `outputs` from `inputs` (call only when needs_grad).
void record(const std::string& name, const TensorList& outputs, const TensorList& inputs, BackwardFn backward);

// Runs backpropagation from root (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace mg
