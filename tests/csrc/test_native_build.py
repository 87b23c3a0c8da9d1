"""The torch-free half of the build, checked from pytest: configure and build csrc/ with
RAZOR_EXT_KERNELS_ONLY (no torch headers), then run ctest, which holds the C++ kernel tests and,
where nvcc is on PATH, one `nvcc -c` compile check per csrc/cuda/*.cu file."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cmake() -> str:
    found = shutil.which("cmake")
    if found is None:
        pytest.fail("cmake is not on PATH: pip install cmake")
    return found


@pytest.fixture(scope="module")
def kernels_build(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("kernels_build")
    cmake = _cmake()
    generator = ["-GNinja"] if shutil.which("ninja") else []
    subprocess.run(
        [cmake, "-S", str(ROOT), "-B", str(build), *generator, "-DRAZOR_EXT_KERNELS_ONLY=ON",
         "-DRAZOR_EXT_WERROR=ON"],
        check=True, capture_output=True, text=True,
    )
    result = subprocess.run([cmake, "--build", str(build)], capture_output=True, text=True)
    assert result.returncode == 0, f"csrc/ must build warning-free:\n{result.stdout}\n{result.stderr}"
    return build


def _passed(output: str) -> int:
    # Per-test lines ("1/2 Test #2: name ....   Passed") read the same in every ctest version;
    # the summary line does not.
    return len(re.findall(r"Test +#\d+: \S+ \.+ +Passed", output))


def _ctest(build: Path, regex: str) -> subprocess.CompletedProcess:
    ctest = os.path.join(os.path.dirname(_cmake()), "ctest")
    return subprocess.run([ctest, "--output-on-failure", "-R", regex], cwd=build,
                          capture_output=True, text=True)


def test_cpp_kernel_tests_pass(kernels_build):
    result = _ctest(kernels_build, "^test_")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _passed(result.stdout) == len(list((ROOT / "tests" / "csrc").glob("test_*.cpp")))


@pytest.mark.parametrize("isa", ["avx2", "scalar"])
def test_kernel_tests_pass_on_the_narrower_paths_too(kernels_build, isa):
    # Each host runs its widest path by default; RAZOR_EXT_ISA forces the narrower versions of
    # every kernel family (fake quant, KD, channel norms, row copies) through the same C++ tests.
    binaries = [p for p in kernels_build.rglob("test_*") if p.is_file() and os.access(p, os.X_OK)]
    assert len(binaries) == len(list((ROOT / "tests" / "csrc").glob("test_*.cpp")))
    for binary in binaries:
        result = subprocess.run([str(binary)], env={**os.environ, "RAZOR_EXT_ISA": isa},
                                capture_output=True, text=True)
        assert result.returncode == 0, binary.name + result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
def test_cuda_kernels_compile_with_nvcc(kernels_build):
    cu_files = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))
    assert cu_files, "csrc/cuda holds no .cu file to check"
    result = _ctest(kernels_build, "^nvcc_compile_")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _passed(result.stdout) == len(cu_files)
