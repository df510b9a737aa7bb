"""Model: settings, the optimizer table, the single fit loop, logging, printing, the Keras wrapper."""
from .settings import *  # noqa: F401,F403
from .optimizer_registry import *  # noqa: F401,F403
from .logger import *  # noqa: F401,F403
from .printer import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403
from .keras_model_wrapper import *  # noqa: F401,F403

from . import settings, optimizer_registry, logger, printer, model, keras_model_wrapper

__all__ = [name for module in (settings, optimizer_registry, logger, printer, model, keras_model_wrapper)
           for name in module.__all__]
