#include "autograd/graph.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/ops.h"

namespace mg {

namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_keep_graph = true;
}

bool grad_enabled() { return g_grad_enabled; }
bool backward_keeps_graph() { return g_keep_graph; }

NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool needs_grad(const TensorList& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::string& name, const TensorList& outputs, const TensorList& inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->num_outputs = static_cast<int>(outputs.size());
  node->backward = std::move(backward);
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      e.shape = t.shape();
      if (t.impl()->grad_fn) {
        e.fn = t.impl()->grad_fn;
        e.output_nr = t.impl()->output_nr;
      } else {
        e.leaf = t;
      }
    }
    node->inputs.push_back(std::move(e));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* impl = outputs[i].impl();
    impl->requires_grad = true;
    impl->grad_fn = node;
    impl->output_nr = static_cast<int>(i);
  }
}

static void accumulate(Tensor& slot, const Tensor& g) { slot = slot.defined() ? add(slot, g) : g; }

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  MG_CHECK(root.requires_grad(), "backward() on a tensor that does not require grad");
  Tensor g0 = grad_output;
  if (!g0.defined()) {
    MG_CHECK(root.numel() == 1, "backward() without a gradient needs a one-element tensor, got shape {}",
             shape_str(root.shape()));
    g0 = ones_like(root);
  }
  MG_CHECK(g0.shape() == root.shape(), "backward(): gradient shape {} vs tensor shape {}", shape_str(g0.shape()),
           shape_str(root.shape()));

  NoGradGuard no_grad;  // gradients are plain tensors: no higher-order graphs
  struct KeepGraph {
    bool prev = g_keep_graph;
    ~KeepGraph() { g_keep_graph = prev; }
  } keep_flag;
  g_keep_graph = retain_graph;
  auto deposit_leaf = [](const Tensor& leaf, const Tensor& g) {
    MG_CHECK(g.shape() == leaf.shape(), "gradient shape {} for a leaf of shape {}", shape_str(g.shape()),
             shape_str(leaf.shape()));
    Tensor cur = leaf.grad();
    // A fresh tensor either way: g may be shared with other leaves or owned by the caller.
    leaf.impl()->grad = (cur.defined() ? add(cur, g) : g.detach().clone()).impl_ptr();
  };
  if (root.is_leaf()) {
    deposit_leaf(root, g0);
    return;
  }

  // Reverse topological order by an iterative post-order DFS (graphs of long
  // sequences are deep enough to overflow a recursive one).
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack{{root.impl()->grad_fn.get(), 0}};
  seen.insert(stack.back().first);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Edge& in = node->inputs[next++];
      if (in.fn && seen.insert(in.fn.get()).second) stack.push_back({in.fn.get(), 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  // Keep every node alive while we run (releasing inputs may drop the last owner).
  std::vector<std::shared_ptr<Node>> keep;
  keep.push_back(root.impl()->grad_fn);
  for (Node* n : order)
    for (const Edge& in : n->inputs)
      if (in.fn) keep.push_back(in.fn);

  std::unordered_map<Node*, TensorList> pending;
  pending[root.impl()->grad_fn.get()] = TensorList(static_cast<size_t>(root.impl()->grad_fn->num_outputs));
  pending[root.impl()->grad_fn.get()][static_cast<size_t>(root.impl()->output_nr)] = g0;

  for (size_t k = order.size(); k-- > 0;) {
    Node* node = order[k];
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient reached this node
    MG_CHECK(node->backward, "backward through the graph a second time: pass retain_graph = true the first time");
    TensorList grads_in = node->backward(it->second);
    pending.erase(it);
    MG_CHECK(grads_in.size() == node->inputs.size(), "{}: backward returned {} gradients for {} inputs", node->name,
             grads_in.size(), node->inputs.size());
    for (size_t i = 0; i < grads_in.size(); ++i) {
      const Edge& in = node->inputs[i];
      const Tensor& g = grads_in[i];
      if (!in.defined() || !g.defined()) continue;
      MG_CHECK(g.shape() == in.shape, "{}: gradient shape {} for input {} of shape {}", node->name,
               shape_str(g.shape()), i, shape_str(in.shape));
      if (in.fn) {
        TensorList& slots = pending[in.fn.get()];
        if (slots.empty()) slots.resize(static_cast<size_t>(in.fn->num_outputs));
        accumulate(slots[static_cast<size_t>(in.output_nr)], g);
      } else {
        deposit_leaf(in.leaf, g);
      }
    }
    if (!retain_graph) {
      node->backward = nullptr;
      node->inputs.clear();
    }
  }
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  run_backward(*this, grad_output, retain_graph);
}

}  // namespace mg
