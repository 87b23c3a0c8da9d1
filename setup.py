"""pip entry point: builds razor_ext._C with CMake + Ninja against the installed torch.

    pip install --no-build-isolation .      # or -e . for development

Environment:
    RAZOR_EXT_CUDA=0/1     force the CUDA kernels off/on (default: on when torch has CUDA and nvcc exists)
    TORCH_CUDA_ARCH_LIST   CUDA architectures, e.g. "8.0;9.0" (default: the local GPU)
    RAZOR_EXT_WERROR=1     compiler warnings are errors (CI sets it)
    RAZOR_EXT_BUILD_TYPE   CMake build type (default Release)
    MAX_JOBS               parallel compile jobs
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("1", "on", "true", "yes"):
        return True
    if value.lower() in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"{name}={value!r}: expected 0/1, on/off, true/false or yes/no")


def _want_cuda() -> bool:
    forced = _env_flag("RAZOR_EXT_CUDA")
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - the message is the point
        raise RuntimeError(
            "razor_ext builds against the installed torch: pip install torch==2.13.0, "
            "then pip install --no-build-isolation ."
        ) from exc
    has_cuda_torch = torch.version.cuda is not None
    has_nvcc = shutil.which("nvcc") is not None or os.path.exists(
        os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    )
    if forced is True and not has_cuda_torch:
        raise RuntimeError("RAZOR_EXT_CUDA=1 but the installed torch has no CUDA (torch.version.cuda is None)")
    if forced is True and not has_nvcc:
        raise RuntimeError("RAZOR_EXT_CUDA=1 but nvcc is not on PATH nor in $CUDA_HOME/bin")
    if forced is None:
        return has_cuda_torch and has_nvcc
    return forced


def _tool(name: str) -> str:
    # The pip packages cmake and ninja put their executables on PATH; a system install works too.
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"razor_ext's build needs {name} on PATH: pip install {name}")
    return found


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        out_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        cuda = _want_cuda()
        cmake = _tool("cmake")
        args = [
            f"-S{ROOT}",
            f"-B{build_dir}",
            "-GNinja",
            f"-DCMAKE_MAKE_PROGRAM={_tool('ninja')}",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('RAZOR_EXT_BUILD_TYPE', 'Release')}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DRAZOR_EXT_CUDA={'ON' if cuda else 'OFF'}",
            f"-DRAZOR_EXT_WERROR={'ON' if _env_flag('RAZOR_EXT_WERROR') else 'OFF'}",
            "-DRAZOR_EXT_BUILD_TESTS=OFF",
        ]
        subprocess.run([cmake, *args], check=True)
        jobs = os.environ.get("MAX_JOBS")
        build = [cmake, "--build", str(build_dir), "--target", "_C"]
        if jobs:
            build += ["--parallel", jobs]
        subprocess.run(build, check=True)


setup(ext_modules=[CMakeExtension("razor_ext._C")], cmdclass={"build_ext": CMakeBuild})
