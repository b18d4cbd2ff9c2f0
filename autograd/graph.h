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

struct Node;

// Where the gradient of one input goes: the node that produced the input
// (and which of its outputs the input is), or, for a leaf, the leaf itself,
// whose .grad receives it. A node holds its producers, not its input
// tensors, so an input's memory is freed as soon as nothing else uses it:
// what stays alive until backward is exactly what the closures save.
struct Edge {
  std::shared_ptr<Node> fn;  // producer of a non-leaf input
  int output_nr = 0;
  Tensor leaf;               // a leaf input that requires grad
  Shape shape;               // the input's shape, to check its gradient against
  bool defined() const { return fn != nullptr || leaf.defined(); }
};

struct Node {
  std::string name;
  std::vector<Edge> inputs;  // one per op input; undefined where no gradient is wanted
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

// Inside a backward closure: whether this backward pass keeps the graph for
// another one (retain_graph). When it does not, a closure may drop a large
// saved tensor as soon as its own gradients no longer need it, instead of
// holding it until the whole closure returns.
bool backward_keeps_graph();

// Runs backpropagation from root (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace mg
