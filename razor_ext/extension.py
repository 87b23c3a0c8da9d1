"""Loading the compiled extension ``razor_ext._C`` and reporting how it was built."""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import torch

from razor_ext.version import __version__

_REBUILD_HINT = (
    "Rebuild it against the installed torch from the source checkout with\n"
    "    pip install --no-build-isolation -e .\n"
    "(or `pip install --no-build-isolation .` for a regular install)."
)


def load_extension() -> ModuleType:
    """Import ``razor_ext._C`` (which registers ``torch.ops.razor_ext.*``) or explain how to fix it.

    Raises:
        ImportError: when ``_C`` is missing, fails to load, or was built against another torch.
    """
    try:
        ext = importlib.import_module("razor_ext._C")
    except ImportError as exc:
        raise ImportError(
            f"razor_ext's compiled extension razor_ext._C could not be loaded ({exc}). "
            + _REBUILD_HINT
        ) from exc
    check_isa_request()
    if ext.torch_version != torch.__version__:
        raise ImportError(
            f"razor_ext._C was built against torch {ext.torch_version} but torch "
            f"{torch.__version__} is installed (a stale build). " + _REBUILD_HINT
        )
    return ext


ISA_LEVELS = ("avx512", "avx2", "scalar")


def check_isa_request() -> None:
    """Reject an unknown ``RAZOR_EXT_ISA`` (the CPU kernels' forced dispatch path).

    The kernels read the variable once, in C++; a misspelt value there would silently leave the
    host's widest path, so it is refused here, when the extension loads.

    Raises:
        ValueError: when ``RAZOR_EXT_ISA`` is set to something other than avx512, avx2 or scalar.

    Example:
        >>> from razor_ext.extension import check_isa_request
        >>> check_isa_request()  # RAZOR_EXT_ISA unset or valid: nothing happens
    """
    wanted = os.environ.get("RAZOR_EXT_ISA", "")
    if wanted and wanted not in ISA_LEVELS:
        raise ValueError(
            f"RAZOR_EXT_ISA={wanted!r} is not a CPU kernel path; use one of {', '.join(ISA_LEVELS)} "
            "(or leave it unset for the widest path the CPU supports)"
        )


def _parallel_backend_is_openmp() -> bool:
    return "ATen parallel backend: OpenMP" in torch.__config__.parallel_info()


def build_info() -> dict[str, Any]:
    """How this razor_ext was built and what it registered.

    Returns:
        dict with ``version`` (str), ``torch`` (str), ``cuda`` (bool: CUDA kernels compiled),
        ``cuda_archs`` (list[str]), ``openmp`` (bool: torch's parallel backend is OpenMP),
        ``num_threads`` (int), ``cpu_isa`` (str: the CPU kernels' path, ``avx512``, ``avx2`` or
        ``scalar``, narrowed by ``RAZOR_EXT_ISA``), ``cpu_isa_host`` (str: the CPU's widest) and ``ops`` (sorted names under ``torch.ops.razor_ext``).

    Example:
        >>> import razor_ext
        >>> info = razor_ext.build_info()
        >>> "channel_gather" in info["ops"]
        True
    """
    ext = load_extension()
    return {
        "version": __version__,
        "torch": torch.__version__,
        "cuda": bool(ext.with_cuda),
        "cuda_archs": list(ext.cuda_archs),
        "openmp": _parallel_backend_is_openmp(),
        "num_threads": torch.get_num_threads(),
        "cpu_isa": str(ext.cpu_isa()),
        "cpu_isa_host": str(ext.cpu_isa_host()),
        "ops": registered_ops(),
    }


def registered_ops() -> list[str]:
    """Sorted names of the ops under ``torch.ops.razor_ext`` (schemas registered by ``_C``)."""
    names = {
        schema.name.split("::", 1)[1]
        for schema in torch._C._jit_get_all_schemas()
        if schema.name.startswith("razor_ext::")
    }
    return sorted(names)
