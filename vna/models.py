"""The paper's models: VNA's two encoders (section 3.1) and the direct baselines (section 4.2).

Every model has ``score(images, responses) -> S[n_images, n_responses]`` (higher = better match) and
``loss(images, responses)`` for one training batch, so that training and evaluation treat the
three methods alike. Encoding reads rows of ``S``, decoding reads columns.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .losses import MAX_LOGIT_SCALE, contrastive_loss, mse_loss

__all__ = ["ImageEncoder", "SpikeEncoder", "VNA", "DirectEncoder", "DirectDecoder"]

CHANNELS = (16, 32, 64, 128, 256)
_SCORE_CHUNK = 1024


def _check_image_size(image_size: int) -> int:
    if int(image_size) != image_size or image_size < 32 or image_size % 32:
        raise ValueError(
            f"image_size must be a positive multiple of 32 (five stride-2 convolutions); got {image_size}"
        )
    return int(image_size)


def _conv_stack(in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out in CHANNELS:
        layers += [nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU()]
        c_in = c_out
    return nn.Sequential(*layers, nn.Flatten())


def _spike_mlp(n_neurons: int, out_features: int, hidden: int = 512) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_neurons, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(), nn.Linear(hidden, out_features)
    )


class _Model(nn.Module):
    """Shared plumbing: remember constructor arguments (for save/load) and check inputs."""

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self.init_kwargs = dict(init_kwargs)

    def _check_images(self, images: torch.Tensor) -> None:
        c, s = self.init_kwargs.get("in_channels", 1), self.init_kwargs.get("image_size", 64)
        if images.ndim != 4 or images.shape[1:] != (c, s, s):
            raise ValueError(
                f"{type(self).__name__} expects images [n, {c}, {s}, {s}]; got shape {tuple(images.shape)}"
            )

    def _check_responses(self, responses: torch.Tensor) -> None:
        n = self.init_kwargs["n_neurons"]
        if responses.ndim != 2 or responses.shape[1] != n:
            raise ValueError(
                f"{type(self).__name__} expects responses [n, {n}]; got shape {tuple(responses.shape)}"
            )

    def check_pairs(self, data, what: str = "data") -> None:
        """Raise a ValueError naming ``what`` when ``data`` (PairedData) does not fit this model: images of
        another size or channel count, or another number of neurons."""
        c, s = self.init_kwargs.get("in_channels", 1), self.init_kwargs.get("image_size", 64)
        n = self.init_kwargs["n_neurons"]
        got = tuple(data.images.shape[1:])
        if got != (c, s, s):
            fix = []
            if got[0] != c:
                fix.append(f"grey={c == 1}" if c in (1, 3) else f"in_channels={got[0]}")
            if got[1:] != (s, s):
                fix.append(f"image_size={s}")
            raise ValueError(
                f"{type(self).__name__} expects images of {c} x {s} x {s} (channels x height x width) but {what} "
                f"has {got[0]} x {got[1]} x {got[2]}; prepare the images with {', '.join(fix)} "
                f"(vna.data.prepare_images) or build the model for these images"
            )
        if data.n_neurons != n:
            raise ValueError(f"{type(self).__name__} expects {n} neurons but {what} has {data.n_neurons}")

    @torch.no_grad()
    def _map(self, fn, x: torch.Tensor) -> torch.Tensor:
        """``fn`` over ``x`` in chunks, in eval mode, on the model's device."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            return torch.cat([fn(x[i : i + _SCORE_CHUNK].to(device)) for i in range(0, len(x), _SCORE_CHUNK)])
        finally:
            self.train(was_training)


def _chunked_mean(fn, n: int, batch_size: int, device, minimum: int = 1) -> float:
    """The mean of ``fn(idx)`` over consecutive index chunks, weighted by chunk size (chunks below
    ``minimum`` pairs are left out)."""
    chunks = [b for b in torch.arange(n, device=device).split(int(batch_size)) if len(b) >= minimum]
    if not chunks:
        return float("nan")
    total = sum(float(fn(b)) * len(b) for b in chunks)
    return total / sum(len(b) for b in chunks)


class ImageEncoder(nn.Module):
    """Visual encoder (section 3.1.1): five Conv2d(k4, s2, p1) + BatchNorm2d + LeakyReLU, flatten, Linear."""

    def __init__(self, in_channels: int = 1, latent_dim: int = 128, image_size: int = 64) -> None:
        super().__init__()
        image_size = _check_image_size(image_size)
        self.features = _conv_stack(in_channels)
        self.flat_dim = CHANNELS[-1] * (image_size // 32) ** 2  # 256 x 2 x 2 = 1024 at 64 x 64
        self.head = nn.Linear(self.flat_dim, latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class SpikeEncoder(nn.Module):
    """Spike encoder (section 3.1.2): Linear(N, 512) + BatchNorm1d + LeakyReLU + Linear(512, latent)."""

    def __init__(self, n_neurons: int, latent_dim: int = 128, hidden: int = 512) -> None:
        super().__init__()
        if n_neurons < 1:
            raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
        self.mlp = _spike_mlp(n_neurons, latent_dim, hidden)

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        return self.mlp(responses)


class VNA(_Model):
    """Visual-Neural Alignment (section 3.1): both encoders and CLIP's learnable ``logit_scale``.

    ``logit_scale`` is the log of the multiplier applied to cosine similarities, initialised at
    ``log(1 / temperature)``; the multiplier is clamped at 100 in the loss.
    """

    def __init__(
        self,
        n_neurons: int,
        in_channels: int = 1,
        latent_dim: int = 128,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        image_size: int = 64,
    ) -> None:
        super().__init__(n_neurons=n_neurons, in_channels=in_channels, latent_dim=latent_dim,
                         temperature=temperature, learn_temperature=learn_temperature, image_size=image_size)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        self.image_encoder = ImageEncoder(in_channels, latent_dim, image_size)
        self.spike_encoder = SpikeEncoder(n_neurons, latent_dim)
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / temperature)), requires_grad=learn_temperature
        )

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings (eval mode, chunked)."""
        self._check_images(images)
        return self._map(lambda x: nn.functional.normalize(self.image_encoder(x), dim=-1), images)

    def encode_responses(self, responses: torch.Tensor) -> torch.Tensor:
        """L2-normalised response embeddings (eval mode, chunked)."""
        self._check_responses(responses)
        return self._map(lambda x: nn.functional.normalize(self.spike_encoder(x), dim=-1), responses)

    def sides(self, images: torch.Tensor, responses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the score compares (:mod:`vna.scoring`): the image and response embeddings."""
        return self.encode_images(images), self.encode_responses(responses)

    @staticmethod
    def compare(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The paper's rule: cosine similarity of unit-length embeddings."""
        return a @ b.T

    def score(self, images: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of every image with every response."""
        return self.compare(*self.sides(images, responses))

    def loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor | None = None) -> torch.Tensor:
        return contrastive_loss(self.image_encoder(images), self.spike_encoder(responses), self.logit_scale)

    @torch.no_grad()
    def eval_loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor, batch_size: int) -> float:
        """Mean eval-mode loss over ``batch_size`` chunks of the pairs (each image encoded once)."""
        img = self._map(self.image_encoder, images)
        rsp = self._map(self.spike_encoder, responses)
        return _chunked_mean(lambda b: contrastive_loss(img[match[b]], rsp[b], self.logit_scale),
                             len(match), batch_size, match.device, minimum=2)

    @torch.no_grad()
    def collapsed(self, images: torch.Tensor, responses: torch.Tensor) -> str | None:
        """Which embedding (if any) maps every input to one point: a VNA that diverged."""
        for name, emb in (("image", self.encode_images(images)), ("response", self.encode_responses(responses))):
            if len(emb) > 1 and float((emb - emb.mean(0)).norm(dim=1).max()) < 1e-4:
                return name
        return None

    @property
    def temperature(self) -> float:
        """The current temperature, ``1 / min(exp(logit_scale), 100)``."""
        return 1.0 / min(float(self.logit_scale.detach().exp()), MAX_LOGIT_SCALE)


class DirectEncoder(_Model):
    """Direct encoding baseline (section 4.2.1): the image encoder's conv stack, then Linear(1024, N).

    Score: ``-||f(x_i) - y_j||`` (the closest predicted response wins).
    """

    def __init__(self, n_neurons: int, in_channels: int = 1, image_size: int = 64) -> None:
        super().__init__(n_neurons=n_neurons, in_channels=in_channels, image_size=image_size)
        image_size = _check_image_size(image_size)
        if n_neurons < 1:
            raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
        self.features = _conv_stack(in_channels)
        self.head = nn.Linear(CHANNELS[-1] * (image_size // 32) ** 2, n_neurons)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        self._check_images(images)
        return self._map(self, images)

    def sides(self, images: torch.Tensor, responses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the score compares (:mod:`vna.scoring`): predicted responses and candidate responses."""
        self._check_responses(responses)
        pred = self.predict(images)
        return pred, responses.to(pred.device)

    @staticmethod
    def compare(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The paper's rule (section 4.2): negative Euclidean distance."""
        return -torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")

    def score(self, images: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return self.compare(*self.sides(images, responses))

    def loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor | None = None) -> torch.Tensor:
        return mse_loss(self(images), responses)

    @torch.no_grad()
    def eval_loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor, batch_size: int) -> float:
        """Mean eval-mode MSE over all pairs (each image predicted once)."""
        return float(mse_loss(self.predict(images)[match], responses))


class DirectDecoder(_Model):
    """Direct decoding baseline (section 4.2.2): the spike MLP to 1024, reshaped to 256 x 2 x 2, then five
    ConvTranspose2d(4, 2, 1) mirroring the encoder back to ``in_channels x 64 x 64``.

    Hidden transposed convolutions are followed by BatchNorm2d + LeakyReLU; the last by a sigmoid, since
    prepared images lie in [0, 1]. Score: ``-||g(y_j) - x_i||``.
    """

    def __init__(self, n_neurons: int, in_channels: int = 1, image_size: int = 64) -> None:
        super().__init__(n_neurons=n_neurons, in_channels=in_channels, image_size=image_size)
        image_size = _check_image_size(image_size)
        if n_neurons < 1:
            raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
        self.side = image_size // 32
        self.mlp = _spike_mlp(n_neurons, CHANNELS[-1] * self.side**2)
        layers: list[nn.Module] = []
        chans = list(reversed(CHANNELS)) + [in_channels]  # 256, 128, 64, 32, 16, C
        for i, (c_in, c_out) in enumerate(zip(chans[:-1], chans[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1))
            layers += [nn.BatchNorm2d(c_out), nn.LeakyReLU()] if i < len(CHANNELS) - 1 else [nn.Sigmoid()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        z = self.mlp(responses).view(-1, CHANNELS[-1], self.side, self.side)
        return self.deconv(z)

    def reconstruct(self, responses: torch.Tensor) -> torch.Tensor:
        self._check_responses(responses)
        return self._map(self, responses)

    def sides(self, images: torch.Tensor, responses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the score compares (:mod:`vna.scoring`): candidate images and reconstructed images (pixels)."""
        self._check_images(images)
        recon = self.reconstruct(responses).flatten(1)
        return images.to(recon.device).flatten(1), recon

    compare = staticmethod(DirectEncoder.compare)  # the paper's rule (section 4.2): negative Euclidean distance

    def score(self, images: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return self.compare(*self.sides(images, responses))

    def loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor | None = None) -> torch.Tensor:
        return mse_loss(self(responses), images)

    @torch.no_grad()
    def eval_loss(self, images: torch.Tensor, responses: torch.Tensor, match: torch.Tensor, batch_size: int) -> float:
        """Mean eval-mode MSE over all pairs."""
        return float(mse_loss(self.reconstruct(responses), images[match]))
