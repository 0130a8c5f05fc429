"""Training pieces for large garments: feature statistics a frame at a time, vertex batches."""
import msgspec
import torch

from refine_runtime.train import VertexBatch, feature_stats, train_model


def test_feature_stats_are_the_mean_and_deviation_over_the_chosen_frames():
    feats = torch.randn(7, 50, 5) * torch.arange(1, 6) + 3
    idx = torch.tensor([0, 2, 3, 6])
    mean, std = (s.float() for s in feature_stats(feats[i] for i in idx.tolist()))
    flat = feats[idx].reshape(-1, 5)
    torch.testing.assert_close(mean, flat.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(std, flat.std(0), rtol=1e-5, atol=1e-5)


def test_a_vertex_batch_keeps_the_pairs_inside_it_renumbered():
    n = 100
    edges = (torch.arange(n - 1), torch.arange(1, n))  # a chain
    stitches = (torch.tensor([0, 10, 20]), torch.tensor([99, 11, 80]))
    vb = VertexBatch.draw(n, 40, torch.Generator().manual_seed(3), edges, stitches)
    assert len(vb.index) == 40 and bool((vb.index[1:] > vb.index[:-1]).all())
    for (a, b), keep in vb.pairs:
        assert len(a) == int(keep.sum())
    (ea, eb), keep = vb.pairs[0]
    assert 0 < len(ea) < n - 1
    assert torch.equal(vb.index[ea], edges[0][keep]) and torch.equal(vb.index[eb], edges[1][keep])
    x = torch.arange(3 * n).reshape(3, n)
    assert torch.equal(vb.take(x), x[:, vb.index])
    whole = VertexBatch.draw(n, 0, torch.Generator(), edges)
    assert whole.index is None and whole.take(x) is x and whole.pairs[0][0] == edges


def test_training_on_vertex_batches_still_learns(tiny):
    _, cfg, seq, ck = tiny
    tc = msgspec.structs.replace(cfg.training, vertex_batch=seq.n // 3)
    batched = train_model(seq, msgspec.structs.replace(cfg, training=tc), progress=False)
    held, full = batched.stats["heldout"], ck.stats["heldout"]
    # a third of the vertices per iteration, the same iterations: worse than every vertex, far better than the base
    assert held["refined_l2_cm"] <= 0.6 * held["base_l2_cm"], held
    assert held["refined_l2_cm"] >= 0.9 * full["refined_l2_cm"], (held, full)
