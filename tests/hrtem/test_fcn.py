import numpy as np
import pytest
import torch

from atomcount.hrtem.nn.checkpoint import load_model, save_model
from atomcount.hrtem.nn.fcn import ColumnFCN


@pytest.mark.parametrize("shape", [(32, 32), (48, 64), (128, 96)])
def test_any_size_divisible_by_8(shape):
    net = ColumnFCN(width=4).eval()
    out = net(torch.zeros(2, 1, *shape))
    assert out["regression"].shape == (2, 1, *shape)
    assert out["classification"].shape == (2, 16, *shape)
    assert (out["regression"] >= 0).all()


def test_rejects_sizes_not_divisible_by_8():
    with pytest.raises(ValueError, match="divisible by 8"):
        ColumnFCN(width=4)(torch.zeros(1, 1, 30, 32))


@pytest.mark.parametrize("shape", [(32, 32), (48, 64)])
def test_stride_two_trunk_keeps_full_resolution_maps(shape):
    net = ColumnFCN(width=4, input_stride=2).eval()
    assert net.multiple == 16
    out = net(torch.zeros(2, 1, *shape))
    assert out["regression"].shape == (2, 1, *shape)
    assert out["classification"].shape == (2, 16, *shape)
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.zeros(1, 1, 40, 32))
    with pytest.raises(ValueError, match="input_stride"):
        ColumnFCN(width=4, input_stride=3)


def test_stride_two_trunk_sees_every_pixel_and_works_at_half_resolution():
    """Space-to-depth is lossless: changing one pixel changes the output; the first stage's
    feature maps are half the image's size."""
    torch.manual_seed(0)
    net = ColumnFCN(width=4, input_stride=2).eval()
    x = torch.randn(1, 1, 32, 32)
    seen = {}
    net.down[0].register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape)))
    with torch.no_grad():
        a = net(x)["classification"]
        for r, c in ((0, 0), (0, 1), (1, 0), (1, 1)):  # each position within a 2×2 block
            y = x.clone()
            y[0, 0, 10 + r, 10 + c] += 1.0
            assert not torch.allclose(net(y)["classification"], a)
    assert seen["shape"] == (1, 4, 16, 16)


def test_tiny_model_overfits_tiny_set(small_wave, small_particle):
    """Loss on a fixed tiny batch falls by an order of magnitude."""
    from atomcount.hrtem.training.loop import TrainConfig, loss_terms
    from atomcount.hrtem.training.stream import HRTEMStream

    torch.manual_seed(0)
    torch.set_num_threads(1)
    stream = HRTEMStream([(small_wave, small_particle.columns, {})], crop=48, augment=False)
    x, h, c = (torch.from_numpy(a) for a in stream.batch(np.random.default_rng(0), 2))
    net = ColumnFCN(width=8)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    cfg = TrainConfig()
    first = None
    for _ in range(200):
        loss = loss_terms(net(x), h, c, cfg)["loss"]
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.1 * first


@pytest.mark.parametrize("stride", [1, 2])
def test_save_load_round_trip(tmp_path, stride):
    net = ColumnFCN(width=4, input_stride=stride).eval()
    save_model(tmp_path / "m.pt", net, {"note": "x"})
    back, meta = load_model(tmp_path / "m.pt")
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x)["regression"], back(x)["regression"])
    assert meta == {"note": "x"} and back.input_stride == stride


def test_half_file_loads_float32_weights_equal_to_the_rounded_model(tmp_path):
    from atomcount.hrtem.nn.checkpoint import round_to_half

    net = ColumnFCN(width=8).eval()
    save_model(tmp_path / "full.pt", net, {})
    save_model(tmp_path / "half.pt", net, {}, half=True)
    back, meta = load_model(tmp_path / "half.pt")
    assert meta == {"weights": "float16"}
    assert all(v.dtype in (torch.float32, torch.int64) for v in back.state_dict().values())
    rounded = ColumnFCN(width=8).eval()
    rounded.load_state_dict(net.state_dict())
    round_to_half(rounded)
    for k, v in back.state_dict().items():
        assert torch.equal(v, rounded.state_dict()[k]), k
    # rounding changed the weights (so the test can fail) but only at float16 precision
    w = net.state_dict()["down.0.0.weight"]
    assert not torch.equal(back.state_dict()["down.0.0.weight"], w)
    torch.testing.assert_close(back.state_dict()["down.0.0.weight"], w, rtol=1e-3, atol=1e-4)
    size = {n: (tmp_path / f"{n}.pt").stat().st_size for n in ("full", "half")}
    assert size["half"] < 0.6 * size["full"]


def _with_random_batch_norm(net: ColumnFCN) -> ColumnFCN:
    """``net`` with non-trivial statistics and affine parameters in every batch norm."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net


@pytest.mark.parametrize("stride", [1, 2])
def test_widening_keeps_the_outputs_and_breaks_the_symmetry_of_the_copies(stride):
    from atomcount.hrtem.nn.fcn import widen

    torch.manual_seed(0)
    net = _with_random_batch_norm(ColumnFCN(width=4, input_stride=stride)).eval()
    wide = widen(net, torch.Generator().manual_seed(1))
    assert (wide.width, wide.input_stride, wide.training) == (8, stride, False)
    assert sum(p.numel() for p in wide.parameters()) > 3 * sum(p.numel() for p in net.parameters())
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        ref, got = net(x), wide(x)
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5)
    # channel c and its copy c + 4 read the same inputs, but later layers weigh them differently
    w = wide.down[1][0].weight
    torch.testing.assert_close(wide.down[0][0].weight[:4], wide.down[0][0].weight[4:])
    assert not torch.allclose(w[:, :4], w[:, 4:])
    # the two shares of each weight add up to the original, in both copies of every output channel
    for rows in (slice(0, 8), slice(8, 16)):
        torch.testing.assert_close(w[rows, :4] + w[rows, 4:], net.down[1][0].weight)


@pytest.mark.parametrize("stride", [1, 2])
def test_folding_batch_norm_keeps_the_outputs(stride):
    from atomcount.hrtem.nn.fcn import fold_batch_norm

    torch.manual_seed(0)
    net = _with_random_batch_norm(ColumnFCN(width=4, input_stride=stride))
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        ref = net.eval()(x)
        folded = fold_batch_norm(net)
        got = folded(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_predict_maps_pads_to_the_networks_multiple(stride):
    from atomcount.hrtem.analysis.predict import predict_maps

    net = ColumnFCN(width=4, input_stride=stride).eval()
    height, prob = predict_maps(net, np.random.default_rng(0).normal(size=(37, 50)).astype(np.float32))
    assert height.shape == (37, 50) and prob.shape == (16, 37, 50)
    np.testing.assert_allclose(prob.sum(axis=0), 1.0, rtol=1e-5)


def test_symmetry_average_of_an_equivariant_map_is_the_map_and_of_any_network_is_invariant():
    """An identity 'network' (maps = the image) is equivariant: its 8-fold average is itself.
    A random network's averaged maps are equivariant: transposing the image transposes them."""
    from atomcount.hrtem.analysis.predict import predict_maps

    class Echo(torch.nn.Module):
        multiple = 8

        def forward(self, x):
            return {"regression": x, "classification": torch.cat([x, -x], dim=1)}

    image = np.random.default_rng(1).normal(size=(40, 56)).astype(np.float32)
    h, p = predict_maps(Echo(), image, tta=True)
    np.testing.assert_allclose(h, image, rtol=1e-6, atol=1e-6)
    h0, p0 = predict_maps(Echo(), image)
    np.testing.assert_allclose(p, p0, rtol=1e-6, atol=1e-6)
    torch.manual_seed(0)
    net = ColumnFCN(width=4).eval()
    h, p = predict_maps(net, image[:, :40], tta=True)
    ht, pt = predict_maps(net, np.ascontiguousarray(image[:, :40].T), tta=True)
    np.testing.assert_allclose(ht, h.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pt, p.transpose(0, 2, 1), rtol=1e-4, atol=1e-5)
    assert not np.allclose(predict_maps(net, image[:, :40])[1], p, atol=1e-4)  # the plain maps differ
