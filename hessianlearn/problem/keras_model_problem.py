"""A problem read off a compiled Keras model: its losses, loss weights and metrics."""
import numbers

from .._tf import keras, tf
from .problem import Problem

__all__ = ["KerasModelProblem"]

_ACCURACY_NAMES = ("accuracy", "acc")


def _per_output(spec, output_names, what):
    """Expand a compile argument (single, list or dict) into one entry per output (None = absent)."""
    n = len(output_names)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(output_names))
        if unknown:
            raise ValueError(f"{what} names unknown outputs {unknown}; the outputs are {output_names}.")
        return [spec.get(name) for name in output_names]
    if isinstance(spec, (list, tuple)) and what == "loss_weights":
        if len(spec) != n:
            raise ValueError(f"{what} has {len(spec)} entries for {n} outputs.")
        return list(spec)
    if isinstance(spec, (list, tuple)) and what == "loss":
        if len(spec) != n:
            raise ValueError(f"loss is a list of {len(spec)} entries for {n} outputs; give one per output.")
        return list(spec)
    return [spec] * n


def _loss_name(spec):
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or getattr(spec, "__name__", type(spec).__name__)


class KerasModelProblem(Problem):
    r"""The training loss of a compiled tf-keras model as a :class:`Problem`.

    For outputs ``k = 1..m`` with loss functions ``L_k`` and weights ``c_k`` (from
    ``model.compile(loss=..., loss_weights=...)``; a single loss applies to every output,
    a list gives one per output, a dict maps output names to losses; weights default to 1),

    .. math::

        f(w) = \sum_k c_k \,\operatorname{mean}_i L_k(y^{(k)}_i, \hat y^{(k)}_i) + \sum \text{model.losses},

    the last term being the model's own weight penalties (kernel regularizers).
    Losses may be names (``'mse'``), functions ``fn(y_true, y_pred)`` returning
    per-sample values, or ``tf.keras.losses.Loss`` objects.

    Parameters
    ----------
    compiled_keras_model : tf.keras.Model
        A tf-keras model on which ``compile(loss=...)`` was called.
    hessian_block_size, dtype
        As in :class:`Problem`.

    Attributes
    ----------
    x : tf.Tensor or list of tf.Tensor
        The model's input (a list if there are several).
    y_true, y_prediction : tf.Tensor or list of tf.Tensor
        One target placeholder per output (a list if several) and the outputs.
    output_losses : dict
        Output name to its unweighted mean loss tensor.
    metric_dict : dict
        Metric name to tensor, the batch mean of each compiled metric function; with
        several outputs names are ``'<output>_<metric>'`` as in Keras.
    accuracy : tf.Tensor or None
        The first accuracy metric, if one was compiled.

    Notes
    -----
    ``'accuracy'``/``'acc'`` resolves as Keras does: binary accuracy for binary
    cross-entropy or one-unit outputs, sparse categorical accuracy for sparse
    categorical losses, categorical accuracy otherwise. Stateful metric objects are
    accepted when they wrap a function (``tf.keras.metrics.MeanSquaredError()``);
    others raise ``TypeError``. Outputs without a loss need no target. Sparse
    categorical losses take integer labels of shape ``(batch,)`` (fed as floats).
    """

    _allows_multiple_io = True

    def __init__(self, compiled_keras_model, hessian_block_size=None, dtype=None):
        super().__init__(compiled_keras_model, hessian_block_size=hessian_block_size, dtype=dtype)

    def _check_network(self):
        if not getattr(self.NN, "_is_compiled", False) or not self.NN.loss:
            raise ValueError(
                "compiled_keras_model is not compiled: call model.compile(loss=...) first "
                "(the optimizer argument is not used by hessianlearn)."
            )
        super()._check_network()

    def _build_inputs(self):
        inputs, outputs = list(self.NN.inputs), list(self.NN.outputs)
        self._input_list, self._output_list = inputs, outputs
        self.x = inputs[0] if len(inputs) == 1 else inputs
        self.y_prediction = outputs[0] if len(outputs) == 1 else outputs
        self.output_names = list(self.NN.output_names)

    def _build_loss(self):
        names = self.output_names
        losses = _per_output(self.NN.loss, names, "loss")
        weights = _per_output(getattr(self.NN, "loss_weights", None), names, "loss_weights")
        y_trues, terms = [], []
        self.output_losses = {}
        self._resolved_losses = {}
        for name, out, spec, c in zip(names, self._output_list, losses, weights):
            target_shape = out.shape
            if spec is not None and "sparse" in _loss_name(spec).lower():
                target_shape = out.shape[:-1]  # integer class labels, one per sample
            y_true = tf.placeholder(self.dtype, target_shape, name=f"y_true_{name}")
            y_trues.append(y_true)
            if spec is None:
                continue
            fn = keras.losses.get(spec)
            if not callable(fn):
                raise TypeError(f"The loss for output '{name}' is not callable: {spec!r}.")
            self._resolved_losses[name] = spec
            value = tf.reduce_mean(tf.cast(fn(y_true, out), self.dtype))
            self.output_losses[name] = value
            c = 1.0 if c is None else c
            if isinstance(c, bool) or not isinstance(c, numbers.Real):
                raise TypeError(f"loss_weights for output '{name}' must be a number, got {c!r}.")
            terms.append(tf.constant(float(c), self.dtype) * value)
        if not terms:
            raise ValueError("The compiled model has no loss for any output; pass loss=... to compile.")
        penalties = [tf.cast(p, self.dtype) for p in self.NN.losses]
        self.loss = tf.add_n(terms + penalties)
        self.y_true = y_trues[0] if len(y_trues) == 1 else y_trues
        self._y_true_list = y_trues
        self._build_metrics()

    def _metric_function(self, spec, name, output, y_true):
        if isinstance(spec, str) and spec in _ACCURACY_NAMES:
            loss = _loss_name(self._resolved_losses.get(name, "")) or ""
            loss = loss.lower()
            units = output.shape.as_list()[-1]
            if "binary" in loss or units == 1:
                return spec, keras.metrics.binary_accuracy
            if "sparse" in loss:
                return spec, keras.metrics.sparse_categorical_accuracy
            return spec, keras.metrics.categorical_accuracy
        if isinstance(spec, keras.metrics.Metric):
            fn = getattr(spec, "_fn", None)
            if fn is None:
                raise TypeError(
                    f"Metric {spec.name!r} is a stateful metric without a per-sample function; "
                    "compile with a metric name or function instead."
                )
            kwargs = dict(getattr(spec, "_fn_kwargs", {}) or {})
            return spec.name, lambda t, p: fn(t, p, **kwargs)
        fn = keras.metrics.get(spec)
        label = spec if isinstance(spec, str) else getattr(fn, "__name__", "metric")
        return label, fn

    def _build_metrics(self):
        names = self.output_names
        spec = getattr(self.NN, "_compile_metrics", None) or []
        if isinstance(spec, dict):
            per_output = _per_output(spec, names, "metrics")
        elif isinstance(spec, (list, tuple)) and spec and all(isinstance(s, (list, tuple)) for s in spec):
            if len(spec) != len(names):
                raise ValueError(f"metrics has {len(spec)} lists for {len(names)} outputs.")
            per_output = list(spec)
        else:
            per_output = [spec] * len(names)
        self.metric_dict = {}
        self.accuracy = None
        for name, out, y_true, metrics in zip(names, self._output_list, self._y_true_list, per_output):
            if metrics is None:
                continue
            if not isinstance(metrics, (list, tuple)):
                metrics = [metrics]
            for m in metrics:
                label, fn = self._metric_function(m, name, out, y_true)
                key = label if len(names) == 1 else f"{name}_{label}"
                value = tf.reduce_mean(tf.cast(fn(y_true, out), self.dtype))
                self.metric_dict[key] = value
                if self.accuracy is None and (label in _ACCURACY_NAMES or "accuracy" in label):
                    self.accuracy = value
