#!/usr/bin/python3
"""PyTorch reference for `vicinal bench`: the same teacher-cnn and student-cnn,
the same blended distillation loss and batch, timed on random data.

Layers follow libs/models/src (blocks.ts, teacher-cnn.ts, student-cnn.ts):
a conv block is a 3x3 'same' convolution without bias, optionally 2x2 max
pooling, batch norm (Keras momentum 0.9 = PyTorch momentum 0.1, epsilon
1e-3) and ReLU.
  student-cnn: blocks of 16 (pooled), 32 (pooled), 64 channels, global
               average pooling, linear classifier.
  teacher-cnn: blocks of 32 (pooled), 64 (pooled) channels, flatten, dense
               256 + ReLU, linear classifier.
Loss: (1 - beta) * CE(student, mixed labels)
      + beta * T^2 * mean KL(softmax(teacher / T) || softmax(student / T)),
with Adam (lr 0.002). One training step = forward, loss, backward, update,
loss read back. One inference pass = eval-mode forward without gradients.

Prints one JSON object on stdout. Run with Debian's /usr/bin/python3 (package
python3-torch); without torch it prints {"available": false, ...}.
With --serve it prints the configurations, then answers one JSON request per
stdin line, {"config": i, "warmup": w, "steps": n}, with
{"trainStepMs": ..., "inferenceMs": ...}: the protocol of bench/model-timing.ts,
so `vicinal bench` can alternate between the two.
"""

import argparse
import json
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--beta", type=float, default=0.8)
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--configs",
        default="student-cnn:28x28x1,student-cnn:32x32x3,teacher-cnn:28x28x1,teacher-cnn:32x32x3",
        help="comma-separated architecture:HxWxC",
    )
    p.add_argument(
        "--serve",
        action="store_true",
        help="print the configs, then answer timing requests on stdin (vicinal bench)",
    )
    return p.parse_args()


def build(torch, architecture, shape, classes):
    nn = torch.nn
    h, w, c = shape

    def block(cin, cout, pool):
        layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False)]
        if pool:
            layers.append(nn.MaxPool2d(2, 2))
        layers += [nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1), nn.ReLU()]
        return layers

    if architecture == "student-cnn":
        layers = block(c, 16, True) + block(16, 32, True) + block(32, 64, False)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    elif architecture == "teacher-cnn":
        layers = block(c, 32, True) + block(32, 64, True)
        flat = 64 * (h // 4) * (w // 4)
        layers += [
            nn.Flatten(),
            nn.Linear(flat, 256),
            nn.ReLU(),
            nn.Linear(256, classes),
        ]
    else:
        raise ValueError(
            f"architecture: expected student-cnn or teacher-cnn, got {architecture!r}"
        )
    return nn.Sequential(*layers)


def count_weights(model):
    """Weights as Keras counts them: parameters plus batch-norm moving statistics."""
    total = sum(p.numel() for p in model.parameters())
    for name, buf in model.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            total += buf.numel()
    return total


def ms_per_call(steps, call):
    start = time.perf_counter()
    for _ in range(steps):
        call()
    return (time.perf_counter() - start) * 1000 / steps


class Timed:
    """One model at one input shape, with its data, loss and optimiser."""

    def __init__(self, torch, args, architecture, shape):
        F = torch.nn.functional
        h, w, c = shape
        b, k, t, beta = args.batch, args.classes, args.temperature, args.beta
        self.architecture = architecture
        self.shape = shape
        self.model = model = build(torch, architecture, shape, k)
        x = torch.rand(b, c, h, w) * 2 - 1
        teacher = torch.rand(b, k) * 4 - 2
        labels = torch.randint(0, k, (b,))
        lam = torch.rand(b, 1)
        partner = torch.roll(torch.arange(b), -1)
        onehot = F.one_hot(labels, k).float()
        y_mix = lam * onehot + (1 - lam) * onehot[partner]
        soft_teacher = F.softmax(teacher / t, dim=1)
        log_soft_teacher = F.log_softmax(teacher / t, dim=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.002)

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            student = model(x)
            ce = -(y_mix * F.log_softmax(student, dim=1)).sum(dim=1).mean()
            log_soft_student = F.log_softmax(student / t, dim=1)
            kl = (soft_teacher * (log_soft_teacher - log_soft_student)).sum(dim=1)
            loss = (1 - beta) * ce + beta * t * t * kl.mean()
            loss.backward()
            optimizer.step()
            value = loss.item()
            if value != value:
                raise RuntimeError("loss is NaN")

        def inference():
            with torch.no_grad():
                model(x).numpy()

        self.train_step = train_step
        self.inference = inference

    def describe(self):
        return {
            "architecture": self.architecture,
            "shape": list(self.shape),
            "parameters": count_weights(self.model),
        }

    def measure(self, warmup, steps):
        """ms per training step and per inference pass, after `warmup` of each."""
        self.model.train()
        for _ in range(warmup):
            self.train_step()
        train_ms = ms_per_call(steps, self.train_step)
        self.model.eval()
        for _ in range(warmup):
            self.inference()
        inference_ms = ms_per_call(steps, self.inference)
        return train_ms, inference_ms


def parse_configs(text):
    configs = []
    for item in text.split(","):
        architecture, dims = item.split(":")
        shape = tuple(int(d) for d in dims.split("x"))
        if len(shape) != 3:
            raise ValueError(f"configs: expected HxWxC, got {dims!r}")
        configs.append((architecture, shape))
    return configs


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve(timed):
    """Answers {"config", "warmup", "steps"} lines on stdin until it closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        train_ms, inference_ms = timed[request["config"]].measure(
            request["warmup"], request["steps"]
        )
        emit({"trainStepMs": train_ms, "inferenceMs": inference_ms})


def main():
    args = parse_args()
    try:
        import torch
    except Exception as err:  # ImportError, or a broken installation
        print(
            f"pytorch_reference: PyTorch is not available ({err}); "
            "install Debian's python3-torch to compare",
            file=sys.stderr,
        )
        emit({"available": False, "reason": f"import torch failed: {err}"})
        return 0
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    timed = [Timed(torch, args, a, s) for a, s in parse_configs(args.configs)]
    header = {
        "available": True,
        "torchVersion": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
    }
    if args.serve:
        emit({**header, "configs": [t.describe() for t in timed]})
        serve(timed)
        return 0
    timings = []
    for t in timed:
        t.measure(args.warmup, 1)
        runs = [t.measure(0, args.steps_per_rep) for _ in range(args.reps)]
        result = {
            **t.describe(),
            "trainStepMs": [r[0] for r in runs],
            "inferenceMs": [r[1] for r in runs],
        }
        timings.append(result)
        print(
            f"pytorch {t.architecture} {'x'.join(map(str, t.shape))}: train step "
            f"{sorted(result['trainStepMs'])[args.reps // 2]:.1f} ms, inference "
            f"{sorted(result['inferenceMs'])[args.reps // 2]:.1f} ms",
            file=sys.stderr,
        )
    emit({**header, "timings": timings})
    return 0


if __name__ == "__main__":
    sys.exit(main())
