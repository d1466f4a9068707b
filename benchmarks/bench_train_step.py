"""Benchmark: end to end — ms per training step of a small regressor with each DIR method, CPU or CUDA.

    python -m benchmarks.bench_train_step [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Model: an MLP ``128 → 1024 (ReLU) → 512`` (the 512-d features, a Linear output as the official
ResNet's pooled encoding, so the official in-place FDS works on it) ``→ Linear(512, 1)`` head (bias
started at 45), SGD (lr 1e-5). One fixed batch ``x [B, 128]`` ~ N(0, 1) with AgeDB-DIR training ages
as labels. One call = one full training step: ``zero_grad``, forward, loss, ``backward``,
``optimizer.step()``; every provider owns a model initialised from the same seed (built at its first,
untimed, warm-up call). Cases ``<method>_B<B>``:

* ``l1`` — vanilla L1;
* ``lds_fds_focal`` — LDS weights (sqrt_inv, gaussian 5/2, fitted on the AgeDB training ages, bins
  ``official_age(121)``) + FDS on the features (97 bins 3..99, calibrating: two epochs of statistics
  of the model's features at set-up) + focal-L1;
* ``conr`` — ConR (official variant) on two views (``x`` and ``x + 0.05·noise``: M = 2B rows) + L1;
* ``dist`` — Dist Loss (L1, eps 0.1, pseudo-labels of the AgeDB training ages).

Providers (interleaved):

* ``vanilla_l1`` (the floor: what the same step costs without the DIR method) — plain PyTorch
  ``F.l1_loss`` step (for ``conr`` on both views);
* ``dirfast`` — eager: ``dirfast.l1`` / ``dirfast.LDS`` + ``dirfast.nn.FDS(accumulate_in_forward=True)``
  + ``dirfast.focal_l1`` / ``dirfast.conr_loss(variant="official")`` + ``dirfast.l1`` /
  ``dirfast.nn.DistLoss``;
* ``dirfast_tf32`` (``conr`` only) — the same with ``input_precision="tf32"``;
* ``dirfast_compile`` (CUDA) — the forward + loss of ``dirfast`` under ``torch.compile`` (default mode;
  backward and ``optimizer.step`` eager);
* ``dirfast_compile_ro`` (CUDA) — the same with ``torch.compile(mode="reduce-overhead")`` (CUDA graphs);
  at least 3 warm-up calls. The compile providers are skipped under ``--sizes check`` (cold compiles
  take minutes) and on CPU (printed note);
* ``naive_torch`` — plain PyTorch a user would write: a ``[K]`` weight table gather, FDS as
  ``z·scale[b] + shift[b]`` plus ``bincount``/``index_add_`` running sums, the focal formula; dense
  ConR (``conr_loss(backend="reference")``); Dist Loss through ``dirfast.reference.dist_loss_ref``;
* ``official`` — the code paths of ``tests/_official_*.py``: ``weighted_l1_loss``; per-sample weights
  from the official ``prepare_weights`` (delivered with the batch, as the official data set does) +
  the official FDS ``smooth`` in the forward (statistics copied from dirfast's module; its
  per-epoch statistics pass is not per step) + ``weighted_focal_l1_loss``; ``official_conr`` +
  ``weighted_l1_loss``; the official Dist Loss (its pseudo-labels; NumPy soft sort on the host).

Timing as every benchmark (CUDA events + wall per call on CUDA; inputs not rotated: a training step
keeps its weights in L2). Sizes: CUDA ``default`` B = 256 and 4,096, ``check`` every method at
B = 256 and ConR at 4,096 (eager providers only; the first-step loss check runs on CPU and in CUDA
``default``/``quick``); CPU ``default`` B = 256; ``quick`` B = 64 and ``check`` B = 32 on CPU, ``quick`` 256 on CUDA.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

import dirfast
from dirfast import Bins

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "train_step"
METHODS = ("l1", "lds_fds_focal", "conr", "dist")
D_IN, D_HID, D_FEAT = 128, 1024, 512
LR = 1e-5
NUM_BINS = 97  # FDS ages 3..99
K = 121        # LDS bins (official_age)
EPS = 0.1
OFFICIAL_ROUNDS = 5
SIZES = {
    ("cpu", "default"): [256], ("cpu", "quick"): [64], ("cpu", "check"): [32],
    ("cuda", "default"): [256, 4096], ("cuda", "quick"): [256], ("cuda", "check"): [256, 4096],
}
#: (device, sizes) -> methods run at the largest B (``check`` on CUDA: ConR only, the one whose cost
#: grows with B², to keep the GPU check short)
LARGE_B_METHODS = {("cuda", "check"): ("conr",)}

try:  # every provider compiles its own closure of the same code object: allow many entries
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
    if hasattr(torch._dynamo.config, "accumulated_cache_size_limit"):
        torch._dynamo.config.accumulated_cache_size_limit = max(
            torch._dynamo.config.accumulated_cache_size_limit, 1024)
except Exception:  # pragma: no cover - dynamo unavailable: the compile providers will report it
    pass


# ------------------------------------------------------------------------------------------------
# cases


def _setup(method: str, b: int, seed: int = 0):
    def setup(device: str = "cpu") -> Dict[str, Any]:
        if device == "cuda":
            torch._dynamo.reset()  # the previous case's compiled graphs are no longer needed
        g = torch.Generator().manual_seed(seed)
        train = runner.agedb_train().to(torch.float32)
        idx = torch.randint(0, len(train), (b,), generator=g)
        x = torch.randn(b, D_IN, generator=g)
        y = train[idx]
        inputs = {"method": method, "x": x, "y": y, "train": train, "idx": idx, "state": {}}
        if method == "conr":
            inputs["x"] = torch.cat([x, x + 0.05 * torch.randn(b, D_IN, generator=g)])
            inputs["y"] = torch.cat([y, y])
        return runner.to_device(inputs, device)

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    sizes = runner.sizes_arg(sizes)
    cases = []
    bs = SIZES[(device, sizes)]
    for b in bs:
        for method in METHODS:
            if b == max(bs) and len(bs) > 1 and method not in LARGE_B_METHODS.get((device, sizes), METHODS):
                continue
            m = 2 * b if method == "conr" else b
            cases.append(Case(
                name=f"{method}_B{b}",
                params={"n": b, "dtype": "float32", "method": method,
                        "shapes": f"x [{m}, {D_IN}], features [{m}, {D_FEAT}]",
                        "model": f"MLP {D_IN}->{D_HID}->{D_FEAT} features -> Linear({D_FEAT}, 1), SGD lr {LR}",
                        "compile": sizes != "check" and device == "cuda"},
                setup=_setup(method, b), rotate=False))
    return cases


# ------------------------------------------------------------------------------------------------
# models and per-provider state


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.feat = torch.nn.Sequential(torch.nn.Linear(D_IN, D_HID), torch.nn.ReLU(),
                                        torch.nn.Linear(D_HID, D_FEAT))
        self.head = torch.nn.Linear(D_FEAT, 1)
        with torch.no_grad():
            self.head.bias.fill_(45.0)


def _net(device, seed: int = 1) -> _Net:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _Net()
    return net.to(device)


_LDS: Dict[str, Any] = {}


def _lds() -> "dirfast.LDS":
    if "lds" not in _LDS:
        train = runner.agedb_train()
        _LDS["lds"] = dirfast.LDS(Bins.official_age(K), reweight="sqrt_inv", lds=True).fit(train)
        _LDS["official_w"] = torch.tensor(
            _official_mod.load("lds").prepare_weights(train.numpy(), "sqrt_inv", max_target=K, lds=True),
            dtype=torch.float32) if _official_mod.available("lds") else None
    return _LDS["lds"]


def _warm_fds(net: _Net, x: torch.Tensor, y: torch.Tensor) -> "dirfast.nn.FDS":
    """FDS on the model's features after two epochs of statistics (the forward then calibrates)."""
    fds = dirfast.nn.FDS(D_FEAT, Bins(3, 1, NUM_BINS), accumulate_in_forward=True).to(x.device).train()
    g = torch.Generator(device=x.device).manual_seed(7)
    with torch.no_grad():
        f = net.feat(x)
        for epoch in range(2):
            fds.accumulate(f + 0.01 * torch.randn(f.shape, generator=g, device=f.device), y)
            fds.end_epoch(epoch)
    return fds


def _method_state(impl: str, inputs: Dict[str, Any], net: _Net) -> Dict[str, Any]:
    """What ``impl`` (dirfast | naive | official | vanilla) needs beyond the model for the method."""
    method, x, y = inputs["method"], inputs["x"], inputs["y"]
    dev = x.device
    st: Dict[str, Any] = {}
    if method == "lds_fds_focal" and impl != "vanilla":
        lds = _lds()
        fds = _warm_fds(net, x, y)
        if impl == "dirfast":
            st["lds"], st["fds"] = lds, fds
        elif impl == "naive":
            st["table"] = lds.bin_weights.to(torch.float32).to(dev)
            stats = (fds.running_mean_last_epoch, fds.running_var_last_epoch, fds.smoothed_mean_last_epoch,
                     fds.smoothed_var_last_epoch)
            st["scale"], st["shift"] = dirfast.fds_scale_shift(*stats)
            st["s1"] = torch.zeros(NUM_BINS, D_FEAT, device=dev)
            st["s2"] = torch.zeros(NUM_BINS, D_FEAT, device=dev)
            st["cnt"] = torch.zeros(NUM_BINS, device=dev)
        elif impl == "official":
            off = _official_mod.load("fds").OfficialFDS(D_FEAT, bucket_num=NUM_BINS + 3, bucket_start=3).to(dev)
            for name in ("running_mean_last_epoch", "running_var_last_epoch", "smoothed_mean_last_epoch",
                         "smoothed_var_last_epoch"):
                getattr(off, name).copy_(getattr(fds, name))
            st["fds"] = off.train()
            st["w"] = _LDS["official_w"][inputs["idx"].cpu()].to(dev)  # delivered with the batch
    elif method == "dist" and impl != "vanilla":
        n = y.shape[0]
        if impl == "official":
            st["q"] = torch.from_numpy(_official_mod.dist_pseudo_labels(n)).reshape(-1, 1).to(dev)
        else:
            crit = dirfast.nn.DistLoss(inputs["train"].cpu(), eps=EPS).to(dev)
            st["crit"] = crit
            st["q"] = crit.pseudo_labels(n, device=dev, dtype=torch.float32)
    return st


def _loss_fn(impl: str, method: str, net: _Net, st: Dict[str, Any], tf32: bool = False):
    """``f(x, y) -> loss``: the forward and the loss of ``impl`` for ``method`` (what compile wraps)."""

    def vanilla(x, y):
        return F.l1_loss(net.head(net.feat(x)).squeeze(1), y)

    if impl == "vanilla":
        return vanilla
    off = _official_mod.load("lds") if impl == "official" else None

    if method == "l1":
        if impl == "dirfast":
            return lambda x, y: dirfast.l1(net.head(net.feat(x)).squeeze(1), y)
        if impl == "naive":
            return lambda x, y: (net.head(net.feat(x)).squeeze(1) - y).abs().mean()
        return lambda x, y: off.weighted_l1_loss(net.head(net.feat(x)), y[:, None])

    if method == "lds_fds_focal":
        if impl == "dirfast":
            def f(x, y):
                w = st["lds"](y)
                z = st["fds"](net.feat(x), y)
                return dirfast.focal_l1(net.head(z).squeeze(1), y, w)
        elif impl == "naive":
            def f(x, y):
                w = st["table"][y.long().clamp(0, K - 1)]
                feats = net.feat(x)
                b = (y.long() - 3).clamp(0, NUM_BINS - 1)
                z = feats * st["scale"][b] + st["shift"][b]
                with torch.no_grad():
                    fd = feats.detach()
                    st["cnt"].add_(torch.bincount(b, minlength=NUM_BINS).to(fd.dtype))
                    st["s1"].index_add_(0, b, fd)
                    st["s2"].index_add_(0, b, fd * fd)
                a = (net.head(z).squeeze(1) - y).abs()
                return (w * a * (2 * torch.sigmoid(0.2 * a) - 1)).mean()
        else:
            fds_off = _official_mod.load("fds")

            def f(x, y):
                enc_s, _ = fds_off.model_forward_train(st["fds"], net.feat(x), y[:, None], 2)
                return off.weighted_focal_l1_loss(net.head(enc_s), y[:, None], st["w"][:, None])
        return f

    if method == "conr":
        if impl == "official":
            conr_off = _official_mod.load("conr")

            def f(x, y):
                feats = net.feat(x)
                pred = net.head(feats)
                return (off.weighted_l1_loss(pred, y[:, None]) +
                        conr_off.official_conr(feats, y[:, None], pred.detach()))
            return f
        backend = "reference" if impl == "naive" else None
        prec = "tf32" if tf32 else "ieee"

        def f(x, y):
            feats = net.feat(x)
            pred = net.head(feats).squeeze(1)
            return (dirfast.l1(pred, y) +
                    dirfast.conr_loss(feats, y, pred.detach(), variant="official", backend=backend,
                                      input_precision=prec))
        return f

    if method == "dist":
        if impl == "dirfast":
            return lambda x, y: st["crit"](net.head(net.feat(x)).squeeze(1), y)
        if impl == "naive":
            from dirfast.reference import dist_loss_ref

            return lambda x, y: dist_loss_ref(net.head(net.feat(x)).squeeze(1), y, st["q"], None, eps=EPS)
        return lambda x, y: _official_mod.dist_loss(net.head(net.feat(x)), y, st["q"], None, eps=EPS)
    raise ValueError(method)


def _step(impl: str, name: str, *, compile_mode: Optional[str] = None, tf32: bool = False):
    """Provider fn: one SGD step of provider ``name``'s own model (built at the first call)."""

    def fn(inputs):
        st = inputs["state"].get(name)
        if st is None:
            x = inputs["x"]
            net = _net(x.device)
            st = _method_state(impl, inputs, net)
            loss_fn = _loss_fn(impl, inputs["method"], net, st, tf32=tf32)
            if compile_mode is not None:
                loss_fn = torch.compile(loss_fn, mode=compile_mode)
            st.update(net=net, opt=torch.optim.SGD(net.parameters(), lr=LR), loss_fn=loss_fn)
            inputs["state"][name] = st
        if compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # a new training iteration for CUDA graph trees
        st["opt"].zero_grad(set_to_none=True)
        loss = st["loss_fn"](inputs["x"], inputs["y"])
        loss.backward()
        st["opt"].step()
        return loss

    return fn


def _only(method: str):
    return lambda c: None if c.params["method"] == method else f"{method} only"


def _compile_skip(c: Case) -> Optional[str]:
    return None if c.params.get("compile") else "--sizes check: compile providers skipped (cold compiles take minutes)"


def build_providers() -> List[Provider]:
    return [
        Provider("vanilla_l1", _step("vanilla", "vanilla_l1"), kind="floor",
                 description="plain PyTorch F.l1_loss step (the step without the DIR method)"),
        Provider("dirfast", _step("dirfast", "dirfast"), description="dirfast eager"),
        Provider("dirfast_tf32", _step("dirfast", "dirfast_tf32", tf32=True), skip=_only("conr"),
                 description="dirfast eager, ConR with input_precision='tf32'"),
        Provider("dirfast_compile", _step("dirfast", "dirfast_compile", compile_mode="default"),
                 devices=("cuda",), skip=_compile_skip, warmup=3,
                 description="torch.compile(forward + dirfast loss), default mode"),
        Provider("dirfast_compile_ro", _step("dirfast", "dirfast_compile_ro", compile_mode="reduce-overhead"),
                 devices=("cuda",), skip=_compile_skip, warmup=3,
                 description="torch.compile(forward + dirfast loss, mode='reduce-overhead')"),
        Provider("naive_torch", _step("naive", "naive_torch"),
                 description="plain PyTorch: table gather, gather-FDS + index_add stats, focal formula; dense "
                             "ConR reference; dist_loss_ref"),
        Provider("official", _step("official", "official"), max_rounds=OFFICIAL_ROUNDS,
                 available=lambda: all(_official_mod.available(k) for k in ("lds", "fds", "conr", "distloss")),
                 description="tests/_official_*: weighted losses, official LDS weights + FDS.smooth, "
                             "official_conr, official Dist Loss"),
    ]


def check_first_step(device: str = "cpu", b: int = 32) -> List[str]:
    """Untimed: the first-step loss of each provider per method (same initial model): dirfast,
    naive_torch and official agree where their semantics do (Dist Loss: different pseudo-labels)."""
    lines = []
    for method in METHODS:
        vals = {}
        for p in runner.active_providers(build_providers(), device):
            if p.name.startswith("dirfast_") or (p.skip is not None and p.skip(
                    Case(method, {"method": method, "compile": False}, lambda: None))):
                continue
            inputs = _setup(method, b)(device)
            try:
                vals[p.name] = float(p.fn(inputs).detach())
            except Exception as exc:
                vals[p.name] = f"{type(exc).__name__}: {exc}"
        lines.append(f"check {method} (B={b}, {device}) first-step loss: " +
                     ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in vals.items()))
    return lines


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    before = check_first_step(args.device) if args.device == "cpu" or args.sizes != "check" else []
    if args.device == "cpu":
        before.append("note: torch.compile providers run on CUDA only (cold CPU compiles take many seconds each)")
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), build_providers(), before=before)


if __name__ == "__main__":
    main()
