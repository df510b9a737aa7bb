"""The ``device`` setting: which device a model's session runs the graph on.

``None`` leaves placement to TensorFlow (every device it sees, GPUs first for
the ops that have GPU kernels). A device name such as ``'/cpu:0'`` or
``'/gpu:1'`` pins the session: ``'/cpu:0'`` hides the GPUs from it, ``'/gpu:N'``
makes GPU ``N`` the only visible one (TensorFlow then calls it ``/gpu:0``
inside the session; ops without a GPU kernel run on the CPU, as always). The
environment (``CUDA_VISIBLE_DEVICES`` and the like) is never changed.
"""
from .._tf import tf

__all__ = ["available_devices", "check_device", "device_config"]

_TYPES = ("CPU", "GPU")


def available_devices():
    """The names (``'/cpu:0'``, ``'/gpu:0'``, ...) of the CPU and GPU devices TensorFlow sees."""
    names = []
    for device_type in _TYPES:
        devices = tf.config.experimental.list_physical_devices(device_type)
        names += [f"/{device_type.lower()}:{i}" for i in range(len(devices))]
    return names


def _parse(device):
    """``(type, index)`` of a device name, ``ValueError`` if it is no plain CPU or GPU name."""
    if not isinstance(device, str):
        raise TypeError(f"settings['device'] must be None or a device name such as '/cpu:0', "
                        f"got {type(device).__name__}.")
    try:
        spec = tf.DeviceSpec.from_string(device)
    except (ValueError, TypeError) as err:
        raise ValueError(f"settings['device'] = {device!r} is not a device name; use e.g. "
                         f"'/cpu:0' or '/gpu:0' (available: {', '.join(available_devices())}).") from err
    device_type = (spec.device_type or "").upper()
    if device_type not in _TYPES or spec.job or spec.replica is not None or spec.task is not None:
        raise ValueError(f"settings['device'] = {device!r} is not a local CPU or GPU device; use one "
                         f"of {', '.join(available_devices())}.")
    return device_type, 0 if spec.device_index is None else int(spec.device_index)


def check_device(device):
    """Return ``device`` if it is None or a device TensorFlow has.

    Raises
    ------
    TypeError
        ``device`` is neither None nor a string.
    ValueError
        The name is malformed or TensorFlow has no such device; the message lists
        the available ones.
    """
    if device is None:
        return None
    device_type, index = _parse(device)
    if index >= len(tf.config.experimental.list_physical_devices(device_type)):
        raise ValueError(f"settings['device'] = {device!r}: TensorFlow has no such device; "
                         f"available: {', '.join(available_devices())}.")
    return device


def device_config(config, device):
    """Pin the session ``config`` (a ``tf.ConfigProto``, changed in place and returned) to ``device``.

    ``None`` leaves ``config`` as it is. ``'/cpu:N'`` sets ``device_count['GPU'] = 0``;
    ``'/gpu:N'`` sets ``gpu_options.visible_device_list = 'N'`` and soft placement
    (ops built for another GPU run on the pinned one).
    """
    if device is None:
        return config
    device_type, index = _parse(check_device(device))
    if device_type == "CPU":
        config.device_count["GPU"] = 0
    else:
        config.gpu_options.visible_device_list = str(index)
        config.allow_soft_placement = True
    return config
