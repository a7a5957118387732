"""Linear baselines and a data-only reference, with the deep models' ``score`` interface (the analyses chapter).

The classical methods a reviewer asks for, scored by the same metrics and protocols as the paper's models:

* :class:`RidgeEncoder` -- image pixels -> PCA -> ridge regression to the responses; scored like direct
  encoding, ``S[i, j] = -||f(x_i) - y_j||``;
* :class:`RidgeDecoder` -- responses -> ridge regression to the images' PCA coefficients; scored like direct
  decoding, ``S[i, j] = -||g(y_j) - PCA(x_i)||`` (distance in the PCA subspace of pixel space);
* :class:`CCAAlignment` -- a linear shared space: PCA of the images and canonical correlation analysis
  with the responses; scored like VNA, by the cosine of the two canonical projections;
* :class:`TrialTemplate` -- no learning at all: each image's mean training response is its template and
  ``S[i, j] = -||template_i - y_j||``. Defined only where test images were seen in training (held-out
  trials, in-sample): a data-only reference for what the trials allow.

Regularisation is chosen on the training set only: ``RidgeCV`` over ``ALPHAS`` with folds grouped by image
(trials of one image never straddle a fold), scored by the mean squared error over all outputs (not the
mean R², which near-constant PCA components would drive to the largest alpha), and the number of canonical
components by the same grouped cross-validation of the mean AUC. All use scikit-learn and numpy on the CPU, seeded, with the thread count
of the run.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .metrics import discriminative_auc
from .models import _Model
from .train import _validate_epoch

__all__ = ["RidgeEncoder", "RidgeDecoder", "CCAAlignment", "TrialTemplate", "LINEAR_MODELS", "ALPHAS",
           "CCA_COMPONENTS", "N_PCA"]

ALPHAS = np.logspace(-2, 6, 17)
CCA_COMPONENTS = (2, 4, 8, 16)
N_PCA = 100  # image PCA components (at most one fewer than the training images)


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float64) if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)


def _dist(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """``-||a_i - b_j||`` as a float32 tensor ``[len(a), len(b)]``."""
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return torch.from_numpy(-np.sqrt(np.maximum(d2, 0.0))).float()


def _group_folds(groups: np.ndarray, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    n_splits = int(min(n_splits, len(np.unique(groups))))
    idx = np.arange(len(groups))
    return list(GroupKFold(n_splits=n_splits).split(idx, groups=groups))


class _Linear:
    """Shared plumbing: constructor arguments (for records), shape checks, a torch-like ``to``/``eval``."""

    def __init__(self, n_neurons: int, in_channels: int = 1, image_size: int = 64, seed: int = 0):
        if n_neurons < 1:
            raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
        self.init_kwargs = dict(n_neurons=int(n_neurons), in_channels=int(in_channels), image_size=int(image_size))
        self.seed = int(seed)
        self.fitted = False
        self.choice: dict[str, Any] = {}

    # the deep models' small interface
    def to(self, device):  # noqa: D401 - torch-like
        return self

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def check_pairs(self, data, what: str = "data") -> None:
        _Model.check_pairs(self, data, what)  # the same checks and messages as the deep models

    def _need_fit(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit_pairs(train) first")

    def _pixels(self, images) -> np.ndarray:
        return _np(images).reshape(len(images), -1)

    def _pca(self, pixels: np.ndarray):
        from sklearn.decomposition import PCA

        k = int(min(N_PCA, len(pixels) - 1, pixels.shape[1]))
        return PCA(n_components=max(k, 1), random_state=self.seed).fit(pixels)

    def _image_pcs(self, train) -> tuple[np.ndarray, np.ndarray]:
        """Fit ``self.pca`` on the training images' pixels: ``(PCs of each training image, match)``."""
        pixels = self._pixels(train.images)
        self.pca = self._pca(pixels)
        return self.pca.transform(pixels), _np(train.match).astype(int)

    def _fit_ridge(self, X: np.ndarray, y: np.ndarray, m: np.ndarray) -> None:
        """``self.ridge``: ridge regression of ``y`` on ``X``, its alpha chosen by image-grouped CV."""
        from sklearn.linear_model import RidgeCV

        self.ridge = RidgeCV(alphas=ALPHAS, cv=_group_folds(m), scoring="neg_mean_squared_error").fit(X, y)
        self.choice = {"alpha": float(self.ridge.alpha_), "pca_components": int(self.pca.n_components_)}

    def fit_pairs(self, train, val=None) -> list[dict]:
        """Fit on the training pairs (regularisation by grouped cross-validation on them); returns a
        one-entry history with the chosen hyperparameters. ``val`` is scored for the record when given."""
        self.check_pairs(train, "train")
        self._fit(train)
        self.fitted = True
        rec: dict[str, Any] = {"epoch": 1, **self.choice}
        if val is not None and self.can_score(val.images):
            rec.update({k: v for k, v in _validate_epoch(self, val, 64).items() if k != "val_loss"})
        return [rec]

    def eval_loss(self, images, responses, match, batch_size: int) -> float:  # validation loss has no meaning
        return float("nan")

    def can_score(self, images) -> bool:
        """Whether these images can be scored (always, except by the trial template)."""
        return True

    @staticmethod
    def compare(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
        """The direct methods' rule (paper section 4.2): negative Euclidean distance."""
        return _dist(a, b)

    def score(self, images, responses) -> torch.Tensor:
        return self.compare(*self.sides(images, responses))


class RidgeEncoder(_Linear):
    """Images (PCA of pixels) -> responses by ridge regression; scored like direct encoding."""

    def _fit(self, train) -> None:
        pcs, m = self._image_pcs(train)
        self._fit_ridge(pcs[m], _np(train.responses), m)

    def predict(self, images) -> np.ndarray:
        self._need_fit()
        return self.ridge.predict(self.pca.transform(self._pixels(images)))

    def sides(self, images, responses) -> tuple[np.ndarray, np.ndarray]:
        """Predicted and candidate responses (:mod:`vna.scoring`)."""
        return self.predict(images), _np(responses)


class RidgeDecoder(_Linear):
    """Responses -> the images' PCA coefficients by ridge regression; scored like direct decoding."""

    def _fit(self, train) -> None:
        pcs, m = self._image_pcs(train)
        self._fit_ridge(_np(train.responses), pcs[m], m)

    def sides(self, images, responses) -> tuple[np.ndarray, np.ndarray]:
        """The candidate images' PCA coefficients and those predicted from the responses (:mod:`vna.scoring`)."""
        self._need_fit()
        return self.pca.transform(self._pixels(images)), self.ridge.predict(_np(responses))


class CCAAlignment(_Linear):
    """A linear shared space: CCA between the images' PCA coefficients and the responses; cosine scores."""

    @staticmethod
    def _cos(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return u @ v.T

    def _fit_cca(self, X, Y, k):
        from sklearn.cross_decomposition import CCA

        return CCA(n_components=k, max_iter=1000, tol=1e-6).fit(X, Y)

    def _fit(self, train) -> None:
        Xi, m = self._image_pcs(train)
        Y = _np(train.responses)
        limit = min(Xi.shape[1], Y.shape[1], len(np.unique(m)) - 1)
        options = [k for k in CCA_COMPONENTS if k <= limit] or [max(1, limit)]
        scores = {}
        for k in options:
            aucs = []
            for tr, te in _group_folds(m, 3):
                cca = self._fit_cca(Xi[m[tr]], Y[tr], k)
                imgs = np.unique(m[te])
                u = cca.transform(Xi[imgs])
                v = self._responses(cca, Y[te])
                S = torch.from_numpy(self._cos(u, v))
                local = torch.from_numpy(np.searchsorted(imgs, m[te]))
                aucs.append(np.mean([discriminative_auc(S, local, t).mean for t in ("encoding", "decoding")]))
            scores[k] = float(np.mean(aucs))
        k = max(scores, key=lambda c: (scores[c], -c))
        self.cca = self._fit_cca(Xi[m], Y, k)
        self.choice = {"components": int(k), "cv_mean_auc": scores[k], "pca_components": int(self.pca.n_components_)}

    def _responses(self, cca, Y: np.ndarray) -> np.ndarray:
        """The canonical projection of responses alone (sklearn's transform projects X and Y separately)."""
        return cca.transform(np.zeros((len(Y), cca.x_rotations_.shape[0])), Y)[1]

    def sides(self, images, responses) -> tuple[np.ndarray, np.ndarray]:
        """The canonical projections of the images and of the responses (:mod:`vna.scoring`)."""
        self._need_fit()
        return self.cca.transform(self.pca.transform(self._pixels(images))), self._responses(self.cca, _np(responses))

    @classmethod
    def compare(cls, a: np.ndarray, b: np.ndarray) -> torch.Tensor:
        """Cosine similarity in the canonical space."""
        return torch.from_numpy(cls._cos(a, b)).float()


class TrialTemplate(_Linear):
    """The data-only reference: each training image's mean training response is its template."""

    @staticmethod
    def _keys(images) -> list[bytes]:
        return [row.tobytes() for row in _np(images).reshape(len(images), -1).astype(np.float32)]

    def _fit(self, train) -> None:
        m = _np(train.match).astype(int)
        R = _np(train.responses)
        counts = np.bincount(m, minlength=train.n_images)
        sums = np.zeros((train.n_images, R.shape[1]))
        np.add.at(sums, m, R)
        keep = counts > 0
        self.templates = {k: s / c for k, s, c, ok in zip(self._keys(train.images), sums, counts, keep) if ok}
        self.choice = {"templates": int(keep.sum())}

    def can_score(self, images) -> bool:
        """Only images seen in training have a template (a validation part of held-out images has none)."""
        return all(k in self.templates for k in self._keys(images))

    def sides(self, images, responses) -> tuple[np.ndarray, np.ndarray]:
        """Each test image's template and the candidate responses (:mod:`vna.scoring`)."""
        self._need_fit()
        keys = self._keys(images)
        missing = sum(k not in self.templates for k in keys)
        if missing:
            raise ValueError(f"TrialTemplate: {missing} test image(s) were not seen in training; the template "
                             "reference exists only for held-out trials or in-sample (split='trials' or 'none')")
        return np.stack([self.templates[k] for k in keys]), _np(responses)


LINEAR_MODELS = {"ridge_encoder": RidgeEncoder, "ridge_decoder": RidgeDecoder, "cca": CCAAlignment,
                 "trial_template": TrialTemplate}
