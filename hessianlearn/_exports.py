"""Re-export the public names (``__all__``) of a subpackage's modules."""
from importlib import import_module


def export_modules(package, modules, namespace):
    """Import ``package.<module>`` for each name, copy its ``__all__`` names into
    ``namespace`` (the package's globals) and return the combined ``__all__``."""
    names = []
    for module_name in modules:
        module = import_module(f".{module_name}", package)
        namespace.update({key: getattr(module, key) for key in module.__all__})
        names += module.__all__
    return names
