"""musicgen's Chopin network in PyTorch, timed one training step at a time.

  seed:  x [B, T, 1] = token index / vocab
  embed: ids [B, T] int64 -> Embedding(vocab, 64) -> [B, T, 64]
  then LSTM(512, every step) -> Dropout(0.1) -> LSTM(256, last step)
  -> Linear(256, no activation) -> Dropout(0.1) -> Linear(vocab): logits [B, vocab];
  cross-entropy, Adamax(lr 0.01) with Keras semantics.
Initialisation as musicgen (Keras defaults): Glorot-uniform input and dense
kernels, orthogonal recurrent kernels, zero biases except the forget gate's 1.

    torch_chopin.py [--model seed|embed] [--threads N] [--steps N] [--warmup N] [--batch B] [--vocab V] [--device cpu|cuda]
                    [--precision fp32|bf16]
    torch_chopin.py --generate N [--model ...] [--threads N] [--precision fp32|bf16]
With --generate it times generation instead, as chopin-lstm generate
--context window does: batch 1, the 40-token window run through the network
for every new token (argmax), eager mode under torch.no_grad(); samples/s is
then tokens/s.

--precision bf16 runs the forward pass and the loss under
torch.autocast(dtype=torch.bfloat16) and the backward pass outside it, as
PyTorch's automatic mixed precision is documented to be used: autocast picks
bfloat16 for the products (nn.LSTM's oneDNN kernel, Linear) and float32 for
the loss; the parameters and Adamax's state stay float32.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def build(model, vocab):
    """The network (in training mode) and Keras' Adamax class, as main() and
    torch_ddp.py use them."""
    import torch
    from torch import nn

    def keras_lstm(input_size, hidden):
        # nn.LSTM keeps two bias vectors (b_ih + b_hh); Keras and musicgen one.
        # b_hh stays a frozen zero, so the trainable parameters are the same.
        lstm = nn.LSTM(input_size, hidden, batch_first=True)
        with torch.no_grad():
            nn.init.xavier_uniform_(lstm.weight_ih_l0)
            nn.init.orthogonal_(lstm.weight_hh_l0)
            lstm.bias_ih_l0.zero_()
            lstm.bias_ih_l0[hidden:2 * hidden] = 1.0  # gates i, f, g, o: forget-gate bias 1
            lstm.bias_hh_l0.zero_()
        lstm.bias_hh_l0.requires_grad_(False)
        return lstm

    def dense(n_in, n_out):
        layer = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class ChopinLSTM(nn.Module):
        def __init__(self, model, vocab, hidden1=512, hidden2=256, dense_size=256, embed_dim=64, dropout=0.1):
            super().__init__()
            self.embedding = None
            if model == "embed":
                self.embedding = nn.Embedding(vocab, embed_dim)
                nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.lstm1 = keras_lstm(embed_dim if self.embedding is not None else 1, hidden1)
            self.drop1 = nn.Dropout(dropout)
            self.lstm2 = keras_lstm(hidden1, hidden2)
            self.dense1 = dense(hidden2, dense_size)
            self.drop2 = nn.Dropout(dropout)
            self.dense2 = dense(dense_size, vocab)

        def forward(self, x):
            seq = self.embedding(x) if self.embedding is not None else x  # [B, T, in]
            h1, _ = self.lstm1(seq)
            _, (h2, _) = self.lstm2(self.drop1(h1))
            last = h2[0]  # [B, H2]: the last step only
            return self.dense2(self.drop2(self.dense1(last)))

    class KerasAdamax(torch.optim.Optimizer):
        """Adamax as Keras (and musicgen) define it:
        m = β1 m + (1 - β1) g;  u = max(β2 u, |g|);  p -= lr / (1 - β1^t) · m / (u + eps).
        (torch.optim.Adamax adds eps inside the max instead.) Multi-tensor
        (_foreach) kernels, as torch.optim's own multi-tensor Adamax uses."""

        def __init__(self, params, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-7):
            super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps))
            self.t = 0

        @torch.no_grad()
        def step(self):
            self.t += 1
            for g in self.param_groups:
                params = [q for q in g["params"] if q.grad is not None]
                grads = [q.grad for q in params]
                for q in params:
                    if not self.state[q]:
                        self.state[q]["m"] = torch.zeros_like(q)
                        self.state[q]["u"] = torch.zeros_like(q)
                m = [self.state[q]["m"] for q in params]
                u = [self.state[q]["u"] for q in params]
                torch._foreach_lerp_(m, grads, 1 - g["beta1"])
                torch._foreach_mul_(u, g["beta2"])
                torch._foreach_maximum_(u, torch._foreach_abs(grads))
                denom = torch._foreach_add(u, g["eps"])
                torch._foreach_addcdiv_(params, m, denom, -g["lr"] / (1 - g["beta1"] ** self.t))


    net = ChopinLSTM(model, vocab)
    net.train()  # dropout active, as in training
    return net, KerasAdamax


def main():
    p = common.parser("PyTorch Chopin LSTM training step", ["seed", "embed"], "seed", common.CHOPIN_BATCH)
    p.add_argument("--vocab", type=int, default=common.CHOPIN_VOCAB)
    p.add_argument("--generate", type=int, default=0, help="time the generation of this many tokens instead")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where the training step runs (cuda: nn.LSTM through cuDNN); generation is timed on the CPU")
    args = p.parse_args()
    common.check_args(p, args)
    if args.vocab < 2:
        p.error("--vocab must be >= 2")

    import torch
    from torch import nn

    import_rss = common.rss_mib()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)

    def mixed(device):
        """The context the forward pass and the loss run in: bfloat16 autocast, or nothing for fp32."""
        return torch.autocast(device, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    net, KerasAdamax = build(args.model, args.vocab)
    trainable = [q for q in net.parameters() if q.requires_grad]
    parameters = sum(q.numel() for q in trainable)
    opt = KerasAdamax(trainable, lr=0.01)

    if args.generate > 0:
        import time
        net.eval()
        window = common.chopin_ids(1, common.CHOPIN_STEPS, args.vocab)[0]

        def encode(tokens):
            t = torch.tensor(tokens, dtype=torch.int64).reshape(1, -1)
            return (t.to(torch.float32) / args.vocab).unsqueeze(2) if args.model == "seed" else t

        with torch.no_grad(), mixed("cpu"):
            for _ in range(3):  # warm-up
                net(encode(window))
            first = None
            start = time.perf_counter()
            for _ in range(args.generate):
                nxt = int(torch.argmax(net(encode(window))[0]))
                first = nxt if first is None else first
                window = window[1:] + [nxt]
            seconds = time.perf_counter() - start
        common.print_result("generate", "pytorch", torch.__version__, args.model, torch.get_num_threads(),
                            seconds / args.generate, 1, float(first), parameters, import_rss, args.precision)
        return

    ids, targets = common.chopin_ids(args.batch, common.CHOPIN_STEPS, args.vocab)
    ids = torch.tensor(ids, dtype=torch.int64).reshape(args.batch, common.CHOPIN_STEPS)
    if args.model == "seed":
        x = (ids.to(torch.float32) / args.vocab).unsqueeze(2)  # [B, T, 1]
    else:
        x = ids
    y = torch.tensor(targets, dtype=torch.int64)
    if args.device == "cuda":
        net.to("cuda")  # before the first step: the optimizer's state is created on the parameters' device
        x, y = x.to("cuda"), y.to("cuda")
    loss_fn = nn.CrossEntropyLoss()

    def step():
        with mixed(args.device):
            loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    step_s, loss_first = common.time_steps(step, args.steps, args.warmup)
    common.print_result("chopin", "pytorch", torch.__version__, args.model, torch.get_num_threads(), step_s,
                        args.batch, loss_first, parameters, import_rss, args.precision)


if __name__ == "__main__":
    main()
