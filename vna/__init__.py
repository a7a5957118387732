"""vna: Visual-Neural Alignment — images and neural responses in one latent space, compared with direct
encoding and direct decoding on discriminative encoding and decoding (ROC AUC)."""
from .config import METHODS, RunConfig
from .evaluation import evaluate
from .models import VNA, DirectDecoder, DirectEncoder, ImageEncoder, SpikeEncoder, build_model

__version__ = "0.1.0"

__all__ = [
    "RunConfig", "METHODS", "evaluate", "VNA", "DirectEncoder", "DirectDecoder", "ImageEncoder",
    "SpikeEncoder", "build_model", "__version__",
]
