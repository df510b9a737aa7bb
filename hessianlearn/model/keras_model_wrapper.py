"""Train a compiled tf-keras model with hessianlearn's optimizers: :class:`KerasModelWrapper`.

The wrapper is a thin front: it builds a
:class:`~hessianlearn.problem.keras_model_problem.KerasModelProblem` from the
compiled model and runs the one fit loop of
:class:`~hessianlearn.model.model.HessianlearnModel` on it.
"""
import numbers

from .._tf import check_keras_model
from .model import HessianlearnModel
from .settings import HessianlearnModelSettings

__all__ = ["KerasModelWrapper", "KerasModelWrapperSettings"]


def KerasModelWrapperSettings(settings=None):
    """Settings of :class:`KerasModelWrapper`: the original hessianlearn's name.

    The wrapper runs the fit loop of
    :class:`~hessianlearn.model.model.HessianlearnModel`, so its settings are
    :func:`~hessianlearn.model.settings.HessianlearnModelSettings` (which holds
    every key of the original's wrapper settings); this returns exactly that.

    Parameters
    ----------
    settings : dict or ParameterList, optional
        ``key -> value`` overrides; not modified.

    Returns
    -------
    ParameterList
    """
    return HessianlearnModelSettings(settings)


class KerasModelWrapper:
    """Fit a compiled tf-keras model with a Hessian-based optimizer.

    Parameters
    ----------
    kerasModel : tf.keras.Model
        A tf-keras model on which ``compile(loss=...)`` was called (its losses,
        loss weights and metrics define the problem).
    regularization : float, L2Regularization or callable, optional
        Tikhonov weight ``gamma`` (an ``L2Regularization`` is built on the
        problem), a ready regularization object, or a callable
        ``problem -> regularization``. ``None``: no regularization.
    optimizer : str or class, optional
        See :meth:`set_optimizer`; default ``settings['optimizer']``.
    optimizer_parameters : dict or ParameterList, optional
        See :meth:`set_optimizer`.
    settings : dict or ParameterList, optional
        Overrides of :func:`~hessianlearn.model.settings.HessianlearnModelSettings`.
    comm : communicator, optional
        MPI communicator (see :class:`HessianlearnModel`).
    hessian_block_size : int, optional
        Columns of the block Hessian product built on the problem (see
        :class:`~hessianlearn.problem.problem.Problem`).

    Attributes
    ----------
    problem : KerasModelProblem
        Built on first access; its ``x`` and ``y_true`` are the keys of the
        data dicts.
    settings : ParameterList
        Shared with the underlying model of every fit.
    model : HessianlearnModel or None
        The model of the last fit (``logger``, ``optimizer``, ``sess`` are
        forwarded from it).

    Examples
    --------
    >>> wrapper = KerasModelWrapper(compiled, settings={'max_sweeps': 5})   # doctest: +SKIP
    >>> p = wrapper.problem                                                  # doctest: +SKIP
    >>> data = Data({p.x: x, p.y_true: y}, 32, validation_data_size=100)    # doctest: +SKIP
    >>> wrapper.set_optimizer('incg')                                        # doctest: +SKIP
    >>> logger = wrapper.fit(data)                                           # doctest: +SKIP
    """

    def __init__(self, kerasModel, regularization=None, optimizer=None, optimizer_parameters=None,
                 settings=None, comm=None, hessian_block_size=None):
        self.kerasModel = check_keras_model(kerasModel, "kerasModel")
        self.hessian_block_size = hessian_block_size
        if not getattr(kerasModel, "_is_compiled", False) or not getattr(kerasModel, "loss", None):
            raise ValueError(
                "kerasModel is not compiled; call kerasModel.compile(loss=...) first (the "
                "compiled losses define the training problem)."
            )
        if not (regularization is None or isinstance(regularization, numbers.Real)
                or callable(regularization) or hasattr(regularization, "cost")):
            raise TypeError(
                "regularization must be None, a gamma (float), an L2Regularization or a callable "
                f"problem -> regularization, got {type(regularization).__name__}."
            )
        self._regularization_spec = regularization
        self._regularization = None
        self._problem = None
        self.settings = HessianlearnModelSettings(settings)
        self.comm = comm
        self.model = None
        self._optimizer = None
        self._optimizer_parameters = None
        if optimizer is not None or optimizer_parameters is not None:
            self.set_optimizer(optimizer if optimizer is not None else self.settings["optimizer"],
                               optimizer_parameters)

    @property
    def problem(self):
        if self._problem is None:
            from ..problem.keras_model_problem import KerasModelProblem

            self._problem = KerasModelProblem(self.kerasModel, hessian_block_size=self.hessian_block_size)
        return self._problem

    @property
    def regularization(self):
        if self._regularization is None and self._regularization_spec is not None:
            spec = self._regularization_spec
            if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
                from ..problem.regularization import L2Regularization

                self._regularization = L2Regularization(self.problem, float(spec))
            elif hasattr(spec, "cost"):
                self._regularization = spec
            else:
                self._regularization = spec(self.problem)
        return self._regularization

    def set_optimizer(self, name_or_class, parameters=None):
        """Choose the optimizer: a registered name (``'lrsfn'``, ``'incg'``, ``'adam'``, ...)
        or an optimizer class; ``parameters`` as in :meth:`HessianlearnModel.set_optimizer`.
        """
        if isinstance(name_or_class, str):
            HessianlearnModelSettings({**self.settings.as_dict(), "optimizer": name_or_class})
            self.settings["optimizer"] = name_or_class
            self._optimizer = None
        elif isinstance(name_or_class, type):
            self._optimizer = name_or_class
        else:
            raise TypeError(
                f"name_or_class must be an optimizer name or class, got {name_or_class!r}."
            )
        if parameters is not None and not hasattr(parameters, "items"):
            raise TypeError(
                f"parameters must be a dict or ParameterList, got {type(parameters).__name__}."
            )
        self._optimizer_parameters = parameters.copy() if parameters is not None else None

    def fit(self, data, w_0=None, resume=False):
        """Run the :class:`HessianlearnModel` fit loop on ``data``; return its logger.

        The best weights end up in ``kerasModel``. ``w_0`` is a flat vector or a
        Keras weight list; ``resume=True`` continues from the newest checkpoint
        of the same run (see :meth:`HessianlearnModel.fit`).
        """
        if self.model is None or self.model.data is not data:
            if self.model is not None:
                self.model.close()
            self.model = HessianlearnModel(self.problem, self.regularization, data, comm=self.comm)
        self.model.settings = self.settings
        if self._optimizer is not None:
            self.model.set_optimizer(self._optimizer, self._optimizer_parameters)
        else:
            self.model.set_optimizer(self.settings["optimizer"], self._optimizer_parameters)
        return self.model.fit(w_0, resume=resume)

    def close(self):
        """Close the session of the last fit."""
        if self.model is not None:
            self.model.close()

    @property
    def logger(self):
        return None if self.model is None else self.model.logger

    @property
    def optimizer(self):
        return None if self.model is None else self.model.optimizer

    @property
    def sess(self):
        return None if self.model is None else self.model.sess
