"""The literal official replicas in ``tests/_official_lds.py`` agree with dirfast's official semantics,
so they can serve as the ``official`` provider of the benchmarks (and as parity oracles)."""

import numpy as np
import pytest
import torch

import dirfast
from _official_lds import LOSSES, get_lds_kernel_window, official_shot_metrics, prepare_weights
from dirfast import Bins


@pytest.fixture(scope="module")
def agedb_train():
    return dirfast.data.agedb_dir_ages()["train"]


@pytest.mark.parametrize("kernel,ks,sigma", [("gaussian", 5, 2), ("gaussian", 9, 1), ("gaussian", 5, 1),
                                             ("triang", 5, 2), ("laplace", 5, 2)])
def test_kernel_window(kernel, ks, sigma):
    got = np.asarray(get_lds_kernel_window(kernel, ks, sigma), dtype=np.float64)
    want = dirfast.kernel_window(kernel, ks, sigma, normalize="peak").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reweight,lds", [("sqrt_inv", True), ("sqrt_inv", False), ("inverse", True),
                                          ("inverse", False)])
def test_prepare_weights_matches_official_variant(agedb_train, reweight, lds):
    labels = agedb_train.numpy()
    got = np.asarray(prepare_weights(labels, reweight, lds=lds), dtype=np.float64)
    model = dirfast.LDS(Bins.official_age(121), reweight=reweight, lds=lds, variant="official",
                        dtype=torch.float64).fit(agedb_train)
    want = model(agedb_train).numpy()
    # official: float32 per-sample 1/v, rescaled by a float32-rounded sum -> fp32 agreement
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert abs(got.mean() - 1) < 1e-5


def test_prepare_weights_inverse_truncation(agedb_train):
    """Spec §1.3: inverse + LDS truncates the smoothed counts (AgeDB: [0.42729, 34.39699])."""
    w = np.asarray(prepare_weights(agedb_train.numpy(), "inverse", lds=True))
    assert w.min() == pytest.approx(0.42729, abs=1e-5) and w.max() == pytest.approx(34.39699, abs=1e-4)
    assert prepare_weights(agedb_train.numpy(), "none") is None


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("weighted", [True, False])
def test_losses_match_dirfast(loss, weighted):
    g = torch.Generator().manual_seed(3)
    n = 257
    pred = (torch.randn(n, 1, generator=g, dtype=torch.float64) * 3)
    target = torch.randn(n, 1, generator=g, dtype=torch.float64) * 3
    weight = torch.rand(n, 1, generator=g, dtype=torch.float64) + 0.5 if weighted else None
    p1 = pred.clone().requires_grad_(True)
    p2 = pred.clone().requires_grad_(True)
    official = LOSSES[loss](p1, target, weight)
    ours = getattr(dirfast, loss)(p2, target, weight)
    official.backward()
    ours.backward()
    torch.testing.assert_close(official, ours, rtol=1e-12, atol=0)
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-10, atol=1e-15)


def test_focal_tanh_matches_dirfast():
    g = torch.Generator().manual_seed(4)
    pred = torch.randn(100, 1, generator=g, dtype=torch.float64).requires_grad_(True)
    target = torch.randn(100, 1, generator=g, dtype=torch.float64)
    for loss in ("focal_l1", "focal_mse"):
        a = LOSSES[loss](pred, target, None, activate="tanh", beta=0.7, gamma=2)
        b = getattr(dirfast, loss)(pred, target, activate="tanh", beta=0.7, gamma=2)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)


def test_shot_metrics_match_official_variant(agedb_train):
    g = np.random.default_rng(0)
    labels = np.round(g.uniform(0, 101, 3000)).astype(np.float64)
    preds = labels + g.normal(0, 5, labels.shape)
    got = official_shot_metrics(preds, labels, agedb_train.numpy())
    m = dirfast.shot_metrics(torch.from_numpy(preds), torch.from_numpy(labels), agedb_train,
                             Bins.official_age(121), variant="official")
    for ours, off in (("many", "many"), ("medium", "median"), ("few", "low")):
        assert got[off]["mse"] == pytest.approx(m.mse[ours], rel=1e-10)
        assert got[off]["l1"] == pytest.approx(m.mae[ours], rel=1e-10)
        assert got[off]["gmean"] == pytest.approx(m.gm[ours], rel=1e-9)
