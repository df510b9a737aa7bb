"""The one place that puts TensorFlow in graph mode and selects tf-keras.

Every module of hessianlearn imports TensorFlow from here::

    from hessianlearn._tf import tf, keras

``tf`` is ``tensorflow.compat.v1`` with v2 behavior disabled, ``keras`` is the
tf-keras (Keras 2) package, which is also what ``tf.keras`` resolves to once
this module has been imported (``TF_USE_LEGACY_KERAS=1`` is set before the
first access of ``tf.keras``). The only other environment variable it sets is
``TF_CPP_MIN_LOG_LEVEL`` (to 2, when unset); device variables such as
``CUDA_VISIBLE_DEVICES`` are left alone (pin a model's session with the
``device`` setting, :mod:`hessianlearn.model.device`).
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as _tensorflow  # noqa: E402
import tf_keras as keras  # noqa: E402

tf = _tensorflow.compat.v1
tf.logging.set_verbosity(tf.logging.ERROR)
if _tensorflow.executing_eagerly():
    tf.disable_v2_behavior()

__all__ = ["tf", "keras", "check_keras_model", "float_dtype"]


def check_keras_model(model, argument="NeuralNetwork"):
    """Raise ``TypeError`` unless ``model`` is a tf-keras (Keras 2) model.

    Keras 3 has no graph mode, so its models cannot expose placeholder-based
    Hessian actions.
    """
    if isinstance(model, keras.Model):
        return model
    module = type(model).__module__
    if module.startswith("keras"):
        raise TypeError(
            f"{argument} is a Keras 3 model ({type(model).__name__} from '{module}'); "
            "hessianlearn needs a tf-keras (Keras 2) model. Import hessianlearn before "
            "building the model and use tf.keras (it then resolves to tf-keras), or "
            "`import tf_keras as keras` and build it with that."
        )
    raise TypeError(
        f"{argument} must be a tf-keras Model, got {type(model).__name__}."
    )


def float_dtype(dtype):
    """Return a floating ``tf.DType`` for ``dtype`` (a string, numpy or tf dtype)."""
    try:
        dt = tf.as_dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype {dtype!r} is not a TensorFlow dtype") from err
    if not dt.is_floating:
        raise TypeError(f"dtype must be a floating type (float32 or float64), got {dt.name}")
    return dt
