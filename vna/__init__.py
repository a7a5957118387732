"""vna: Visual-Neural Alignment — images and neural responses in one latent space, compared with direct
encoding and direct decoding on discriminative encoding and decoding (ROC AUC).

Three layers (README, "Architecture"): the paper's method at the top of the package (models, losses,
metrics, train, evaluation, linear, methods), ``vna.data``, the study machinery in ``vna.study`` and the
book chapters' helpers in ``vna.chapters``. This file is the package's front door: it names the method and
``RunConfig``, the one study object a reader needs to run it.
"""
from .evaluation import evaluate
from .methods import METHODS, build_model
from .models import VNA, DirectDecoder, DirectEncoder, ImageEncoder, SpikeEncoder
from .study.config import RunConfig
from .train import fit

__version__ = "0.1.0"

__all__ = [
    "RunConfig", "METHODS", "evaluate", "fit", "VNA", "DirectEncoder", "DirectDecoder", "ImageEncoder",
    "SpikeEncoder", "build_model", "__version__",
]
