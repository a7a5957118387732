"""Discriminative AUC and top-k (section 3.2) against sklearn, per instance."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from vna.metrics import candidate_scores, discriminative_auc, top_k_accuracy


def reference_auc(S, match, task):
    """Per-instance roc_auc_score over all eligible distractors (the definition, one instance at a time)."""
    out = []
    for j in range(S.shape[1]):
        pos = S[match[j], j]
        neg = S[match[j], match != match[j]] if task == "encoding" else np.delete(S[:, j], match[j])
        out.append(roc_auc_score(np.r_[1, np.zeros(len(neg))], np.r_[pos, neg]))
    return np.array(out)


@st.composite
def problems(draw):
    n_img = draw(st.integers(2, 12))
    n_rsp = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    match = rng.integers(0, n_img, n_rsp)
    if len(np.unique(match)) < 2:
        match[0], match[1] = 0, 1
    levels = draw(st.integers(2, 6))  # few distinct values -> many ties
    S = rng.integers(0, levels, (n_img, n_rsp)).astype(np.float64)
    return S, match


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(["encoding", "decoding"]))
def test_equals_sklearn_per_instance_with_ties(problem, task):
    S, match = problem
    per, mean = discriminative_auc(S, match, task)
    ref = reference_auc(S, match, task)
    np.testing.assert_allclose(per, ref, atol=1e-12)
    assert mean == pytest.approx(ref.mean())


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(["encoding", "decoding"]), st.integers(0, 1000))
def test_sampled_distractors_equal_sklearn_on_their_candidate_sets(problem, task, seed):
    S, match = problem
    n_img = S.shape[0]
    per_image = np.bincount(match, minlength=n_img)
    fewest = n_img - 1 if task == "decoding" else len(match) - per_image[match].max()
    K = max(1, fewest // 2)
    per, _ = discriminative_auc(S, match, task, n_distractors=K, seed=seed)
    pos, negs = candidate_scores(S, match, task, n_distractors=K, seed=seed)
    assert all(len(n) == K for n in negs)
    ref = [roc_auc_score(np.r_[1, np.zeros(K)], np.r_[p, n]) for p, n in zip(pos, negs)]
    np.testing.assert_allclose(per, ref, atol=1e-12)
    # the sampled candidates are distinct eligible distractors of each instance
    for j, n in enumerate(negs):
        pool = S[match[j], match != match[j]] if task == "encoding" else np.delete(S[:, j], match[j])
        assert np.isin(n, pool).all()
    # same seed -> same candidate sets; result independent of call
    assert np.array_equal(per, discriminative_auc(S, match, task, n_distractors=K, seed=seed).per_instance)


def test_sampling_draws_without_replacement_and_covers_pool():
    S = np.random.default_rng(0).permutation(400).reshape(20, 20).astype(float)
    match = np.arange(20)
    _, negs = candidate_scores(S, match, "decoding", n_distractors=19, seed=5)
    for j, n in enumerate(negs):
        assert sorted(n) == sorted(np.delete(S[:, j], j))  # K = all: every other image exactly once


def test_same_image_trials_are_never_distractors():
    # image 0 has three trials with huge scores on row 0; if they served as distractors AUC would drop
    S = np.array([[10.0, 10.0, 10.0, 1.0, 2.0], [0.0, 0.0, 0.0, 5.0, 6.0]])
    match = np.array([0, 0, 0, 1, 1])
    per, mean = discriminative_auc(S, match, "encoding")
    np.testing.assert_array_equal(per[:3], 1.0)
    _, negs = candidate_scores(S, match, "encoding")
    assert [len(n) for n in negs] == [2, 2, 2, 3, 3]
    assert not np.isin(10.0, np.concatenate(negs[:3]))


def test_perfect_and_reversed_scores():
    n = 15
    S = np.eye(n)
    match = np.arange(n)
    for task in ("encoding", "decoding"):
        assert discriminative_auc(S, match, task).mean == 1.0
        assert discriminative_auc(-S, match, task).mean == 0.0
        assert top_k_accuracy(S, match, task) == {1: 1.0, 5: 1.0}
        assert top_k_accuracy(-S, match, task) == {1: 0.0, 5: 0.0}


def test_top_k_counts_ties_against_and_matches_ranks():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(10, 30))
    match = rng.integers(0, 10, 30)
    top = top_k_accuracy(S, match, "decoding", k=(1, 3, 5))
    ranks = np.array([1 + (np.delete(S[:, j], match[j]) >= S[match[j], j]).sum() for j in range(30)])
    for k in (1, 3, 5):
        assert top[k] == pytest.approx((ranks <= k).mean())
    tied = np.zeros((4, 4))
    assert top_k_accuracy(tied, np.arange(4), "decoding", k=1) == {1: 0.0}
    assert discriminative_auc(tied, np.arange(4), "decoding").mean == 0.5


@pytest.mark.parametrize("task", ["encoding", "decoding"])
@pytest.mark.parametrize("n_distractors", [None, 7])
def test_chunked_paths_equal_the_definition(task, n_distractors, monkeypatch):
    """Large inputs go through the chunked (and, for encoding, the sorted) paths: force small chunks so that
    every path runs on a matrix with real signal and ties, and compare with the one-chunk answer and sklearn."""
    import vna.metrics as metrics

    g = torch.Generator().manual_seed(0)
    match = torch.randint(0, 30, (400,), generator=g)
    S = torch.randn(30, 400, generator=g) + 2.0 * (torch.arange(30)[:, None] == match[None, :])
    S = (S * 4).round() / 4  # ties
    whole = discriminative_auc(S, match, task, n_distractors, seed=3)
    seen = []
    real_chunks = metrics._chunks

    def spy(*args, **kwargs):
        for part in real_chunks(*args, **kwargs):
            seen.append(len(part[0]))
            yield part

    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 1000)  # a few instances per chunk
    monkeypatch.setattr(metrics, "_chunks", spy)
    chunked = discriminative_auc(S, match, task, n_distractors, seed=3)
    if n_distractors is not None or task == "encoding":
        assert len(seen) > 3  # the chunked path really ran
    np.testing.assert_allclose(chunked.per_instance, whole.per_instance, atol=1e-12)
    if n_distractors is None:
        np.testing.assert_allclose(whole.per_instance, reference_auc(S.numpy(), match.numpy(), task), atol=1e-12)
    assert 0.75 < whole.mean < 1.0  # far from chance: a constant 0.5 cannot pass


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(S=np.zeros((3, 4)), match=np.zeros(5, int), task="encoding"), "one entry per response"),
        (dict(S=np.zeros((3, 4)), match=np.array([0, 1, 2, 3]), task="encoding"), "out of range"),
        (dict(S=np.zeros((3, 4)), match=np.array([0, 1, 2, -1]), task="decoding"), "out of range"),
        (dict(S=np.full((3, 4), np.nan), match=np.array([0, 1, 2, 0]), task="decoding"), "NaN"),
        (dict(S=np.zeros((3, 4)), match=np.array([0, 1, 2, 0]), task="both"), "task must be"),
        (dict(S=np.zeros((3, 4)), match=np.array([0, 1, 2, 0]), task="decoding", n_distractors=3), "too few distractors"),
        (dict(S=np.zeros((3, 4)), match=np.array([0, 1, 2, 0]), task="encoding", n_distractors=3), "too few distractors"),
        (dict(S=np.zeros(4), match=np.array([0, 1, 2, 0]), task="encoding"), "2-D"),
        (dict(S=np.zeros((3, 4)), match=np.array([0.0, 1, 2, 0]), task="encoding"), "integer"),
    ],
)
def test_bad_input_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        discriminative_auc(**kwargs)


def test_candidate_scores_match_the_auc_candidate_sets_and_check_k():
    rng = np.random.default_rng(3)
    match = np.repeat(np.arange(6), 2)
    S = rng.normal(size=(6, 12))
    pos, neg = candidate_scores(S, match, "decoding", 3)
    pos0, neg0 = candidate_scores(S, match, "decoding", 3, seed=0)  # the default seed is 0
    assert all(np.array_equal(a, b) for a, b in zip(neg, neg0)) and np.array_equal(pos, pos0)
    auc = np.array([(n < p).mean() + 0.5 * (n == p).mean() for p, n in zip(pos, neg)])
    np.testing.assert_allclose(auc, discriminative_auc(S, match, "decoding", 3).per_instance)
    with pytest.raises(ValueError, match="too few distractors"):
        candidate_scores(S, match, "decoding", 6)


def test_float64_scores_keep_their_precision():
    """Scores that differ only beyond float32's precision must not be turned into ties."""
    S = torch.tensor([[1.0 + 1e-12, 1.0], [1.0, 1.0 + 1e-12]], dtype=torch.float64)
    match = torch.tensor([0, 1])
    assert discriminative_auc(S, match, "encoding").mean == 1.0
    assert discriminative_auc(S, match, "decoding").mean == 1.0
    assert discriminative_auc(S.float(), match, "decoding").mean == 0.5  # the same scores in float32 tie
    ints = torch.tensor([[3, 1], [2, 5]])
    assert discriminative_auc(ints, match, "decoding").mean == 1.0


@pytest.mark.parametrize("n_distractors", [None, 3])
@pytest.mark.parametrize("task", ["encoding", "decoding"])
def test_roc_curve_area_is_the_mean_auc_and_top_k_curve_is_top_k_accuracy(task, n_distractors):
    from vna.metrics import roc_curve, top_k_curve

    gen = torch.Generator().manual_seed(4)
    match = torch.arange(8).repeat_interleave(3)
    S = torch.randn(8, 24, generator=gen).round(decimals=1)  # ties too
    auc = discriminative_auc(S, match, task, n_distractors, seed=2)
    curve = roc_curve(S, match, task, n_distractors, seed=2)
    assert curve.auc == pytest.approx(auc.mean, abs=1e-12)
    area = float(np.sum(np.diff(curve.fpr) * curve.tpr[:-1]))  # the step curve's area, right-continuous
    assert area == pytest.approx(auc.mean, abs=1e-12)
    assert curve.fpr[0] == 0 and curve.fpr[-1] == 1 and np.all(np.diff(curve.tpr) >= 0)
    top = top_k_curve(S, match, task, ks=(1, 2, 5, 100), n_distractors=n_distractors, seed=2)
    assert 100 not in top.k  # more than any candidate set holds
    assert dict(zip(top.k, top.accuracy)) == top_k_accuracy(S, match, task, tuple(top.k), n_distractors, seed=2)
    k_candidates = 3 + 1 if n_distractors else (8 if task == "decoding" else 24 - 3 + 1)
    assert np.allclose(top.chance, top.k / k_candidates)
