"""musicgen's jazz-vae conv model (models/jazz_vae.cpp) with its default
time-resolved latent in PyTorch, timed one training step at a time.
B = batch, C = channels, L = frames, Z = latent channels, T = latent frames.

  encoder  x [B, 513, 216] -> 3 x (Conv1d(k3, s2, Keras 'same') -> encoder block)
           -> [B, 256, 27] -> Conv1d(k1) -> mu, logvar [B, 16, 27]
  decoder  z = mu + exp(logvar / 2) eps -> Conv1d(k3, 'same') -> [B, 256, 27]
           -> 3 x (decoder block -> ConvTranspose1d(k4, s2, p1)) -> [B, 513, 216]
  block    relu -> conv -> norm -> LeakyReLU(0.4) -> conv -> norm -> LeakyReLU(0.4) -> + input -> relu
           encoder: Conv1d(k3, 'same') + InstanceNorm1d(affine, eps 1e-3);
           decoder: ConvTranspose1d(k3, s1, p1) + BatchNorm1d(eps 1e-3, momentum 0.1)
  loss     models/vae_loss.h as bench_jazz runs it: sum((recon - x)^2) / B
           + C L * spectral convergence of exp(v) - 1e-3 at three resolutions
           + KL with free bits 0.1 per channel (mean over batch and frames); Adam(1e-3)
The input is a fixed standard-normal batch and eps is drawn every step, as in bench_jazz.

    torch_jazz.py [--model conv] [--threads N] [--steps N] [--warmup N] [--batch B] [--device cpu|cuda] [--tf32]
                  [--precision fp32|bf16]

On cuda the convolutions run through cuDNN in plain float32, as musicgen's do:
PyTorch's default would let cuDNN use TF32 tensor cores, which rounds the
inputs of every product to 10 mantissa bits; --tf32 allows that, to show
what it is worth.

--precision bf16 runs the forward pass and the loss under
torch.autocast(dtype=torch.bfloat16) and the backward pass outside it, as
PyTorch documents: the convolutions compute in bfloat16, the loss's
elementwise terms in whatever their inputs promote to (float32 wherever the
float32 input x takes part); the parameters and Adam's state stay float32.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

CHANNELS = [128, 128, 256]
IN_CHANNELS, FRAMES, KERNEL, LATENT = 513, 216, 3, 16  # 5 s at 22,050 Hz, n_fft 1024, hop 512
FREE_BITS, FLOOR, TINY, GROUP = 0.1, 1e-3, 1e-8, 4


def main():
    p = common.parser("PyTorch jazz conv VAE training step", ["conv"], "conv", 10)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the training step runs")
    p.add_argument("--tf32", action="store_true", help="on cuda, let cuDNN and cuBLAS use TF32 tensor cores")
    args = p.parse_args()
    common.check_args(p, args)
    if args.tf32 and args.device != "cuda":
        p.error("--tf32 needs --device cuda")

    import torch
    import torch.nn.functional as F
    from torch import nn

    import_rss = common.rss_mib()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            p.error("--device cuda: this PyTorch sees no CUDA GPU")
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True  # cuDNN times its algorithms per shape, as musicgen's cudnn_conv does

    def glorot(layer):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class SameConv1d(nn.Conv1d):
        """Keras 'same' padding for any stride: ceil(L / stride) outputs, the odd
        padding element on the right (PyTorch's padding='same' allows stride 1 only)."""

        def forward(self, x):
            L, K, S = x.shape[-1], self.kernel_size[0], self.stride[0]
            total = max((math.ceil(L / S) - 1) * S + K - L, 0)
            left, right = total // 2, total - total // 2
            if left == right:
                return F.conv1d(x, self.weight, self.bias, S, left)
            return F.conv1d(F.pad(x, (left, right)), self.weight, self.bias, S)

    class ResNet1DBlock(nn.Module):
        def __init__(self, channels, kind):
            super().__init__()
            if kind == "encode":
                self.conv1 = glorot(SameConv1d(channels, channels, KERNEL))
                self.norm1 = nn.InstanceNorm1d(channels, eps=1e-3, affine=True)
                self.conv2 = glorot(SameConv1d(channels, channels, KERNEL))
                self.norm2 = nn.InstanceNorm1d(channels, eps=1e-3, affine=True)
            else:
                pad = (KERNEL - 1) // 2  # a stride-1 transposed convolution that keeps the length
                self.conv1 = glorot(nn.ConvTranspose1d(channels, channels, KERNEL, 1, pad))
                self.norm1 = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1)
                self.conv2 = glorot(nn.ConvTranspose1d(channels, channels, KERNEL, 1, pad))
                self.norm2 = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1)

        def forward(self, x):
            h = F.relu(x)
            h = F.leaky_relu(self.norm1(self.conv1(h)), 0.4)
            h = F.leaky_relu(self.norm2(self.conv2(h)), 0.4)
            return F.relu(h + x)

    class ConvVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.down, self.enc_blocks = nn.ModuleList(), nn.ModuleList()
            length, prev = FRAMES, IN_CHANNELS
            for ch in CHANNELS:
                self.down.append(glorot(SameConv1d(prev, ch, KERNEL, stride=2)))
                self.enc_blocks.append(ResNet1DBlock(ch, "encode"))
                prev, length = ch, (length + 1) // 2
            self.latent_frames = length
            self.to_latent = glorot(nn.Conv1d(CHANNELS[-1], 2 * LATENT, 1))
            self.from_latent = glorot(SameConv1d(LATENT, CHANNELS[-1], 3))
            self.dec_blocks, self.up = nn.ModuleList(), nn.ModuleList()
            for i in reversed(range(len(CHANNELS))):
                nxt = CHANNELS[i - 1] if i > 0 else IN_CHANNELS
                self.dec_blocks.append(ResNet1DBlock(CHANNELS[i], "decode"))
                self.up.append(glorot(nn.ConvTranspose1d(CHANNELS[i], nxt, 4, 2, 1)))  # exactly doubles L

        def forward(self, x, eps):
            h = x
            for down, block in zip(self.down, self.enc_blocks):
                h = block(down(h))
            stats = self.to_latent(h)  # [B, 2Z, T]
            mu, logvar = stats[:, :LATENT], stats[:, LATENT:]
            z = mu + torch.exp(0.5 * logvar) * eps
            h = self.from_latent(z)
            for block, up in zip(self.dec_blocks, self.up):
                h = up(block(h))
            return h[:, :, :FRAMES], mu, logvar

    vae = ConvVAE().to(args.device)  # before the optimizer: its state is created on the parameters' device
    vae.train()
    parameters = sum(q.numel() for q in vae.parameters())
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x = torch.randn(args.batch, IN_CHANNELS, FRAMES).to(args.device)

    def convergence(est, ref):
        num = torch.sqrt(torch.sum((est - ref) ** 2, dim=(1, 2)) + TINY)
        return torch.mean(num / torch.sqrt(torch.sum(ref * ref, dim=(1, 2)) + TINY))

    def pool_frames(m):
        B, C, L = m.shape
        L = L // GROUP * GROUP
        return torch.sqrt(torch.sum((m * m)[:, :, :L].reshape(B, C, L // GROUP, GROUP), dim=3) + TINY)

    def pool_bins(m):
        B, C, L = m.shape
        C = C // GROUP * GROUP
        return torch.sqrt(torch.sum((m * m)[:, :C].reshape(B, C // GROUP, GROUP, L), dim=2) + TINY)

    def step():
        with torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            recon, mu, logvar = vae(x, torch.randn(args.batch, LATENT, vae.latent_frames, device=args.device))
            est, ref = torch.exp(recon) - FLOOR, (torch.exp(x) - FLOOR).detach()
            spectral = (convergence(est, ref) + convergence(pool_frames(est), pool_frames(ref))
                        + convergence(pool_bins(est), pool_bins(ref))) / 3
            kl = -0.5 * (1 + logvar - mu * mu - torch.exp(logvar))  # [B, Z, T]
            charged = torch.sum(torch.clamp(kl.mean(dim=(0, 2)), min=FREE_BITS)) * kl.shape[2]
            loss = torch.sum((recon - x) ** 2) / args.batch + spectral * IN_CHANNELS * FRAMES + charged
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    step_s, loss_first = common.time_steps(step, args.steps, args.warmup)
    extra = {"device": args.device}
    if args.device == "cuda":
        extra.update(gpu=torch.cuda.get_device_name(), tf32=args.tf32,
                     peak_gpu_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1))
    common.print_result("jazz", "pytorch", torch.__version__, args.model, torch.get_num_threads(), step_s, args.batch,
                        loss_first, parameters, import_rss, args.precision, **extra)


if __name__ == "__main__":
    main()
