"""Loading razor_ext._C and build_info(): the facts it reports and the errors a broken build gives."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest
import torch

import razor_ext
from razor_ext import extension


def test_build_info_reports_the_build():
    info = razor_ext.build_info()
    assert set(info) == {"version", "torch", "cuda", "cuda_archs", "openmp", "num_threads", "cpu_isa",
                         "cpu_isa_host", "ops"}
    assert info["version"] == razor_ext.__version__
    assert info["torch"] == torch.__version__
    assert isinstance(info["cuda"], bool) and isinstance(info["cuda_archs"], list)
    assert info["cuda"] or info["cuda_archs"] == []
    assert info["openmp"] == ("OpenMP" in torch.__config__.parallel_info())
    assert info["num_threads"] == torch.get_num_threads()
    assert info["ops"] == sorted(info["ops"])
    assert {"channel_gather", "channel_norms"} <= set(info["ops"])
    for name in info["ops"]:
        assert hasattr(torch.ops.razor_ext, name)


def test_missing_extension_says_how_to_rebuild(monkeypatch):
    def fail(name):
        raise ImportError("No module named 'razor_ext._C'")

    monkeypatch.setattr(extension.importlib, "import_module", fail)
    with pytest.raises(ImportError, match="pip install --no-build-isolation"):
        extension.load_extension()


def test_stale_extension_says_how_to_rebuild(monkeypatch):
    stale = types.SimpleNamespace(torch_version="1.13.1", with_cuda=False, cuda_archs=[])
    monkeypatch.setattr(extension.importlib, "import_module", lambda name: stale)
    with pytest.raises(ImportError, match=r"(?s)built against torch 1\.13\.1.*pip install --no-build-isolation"):
        extension.load_extension()


_ISA_ORDER = ("scalar", "avx2", "avx512")


def _isa_in_subprocess(env_update: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAZOR_EXT_ISA", "RAZOR_EXT_NO_AVX512")}
    env.update(env_update)
    code = "import json, razor_ext; i = razor_ext.build_info(); print(json.dumps([i['cpu_isa'], i['cpu_isa_host']]))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("wanted", ["scalar", "avx2", "avx512", "", None])
def test_razor_ext_isa_forces_the_cpu_path(wanted):
    # The variable is read once per process, so each request runs in a fresh interpreter.
    result = _isa_in_subprocess({} if wanted is None else {"RAZOR_EXT_ISA": wanted})
    assert result.returncode == 0, result.stderr
    active, host = json.loads(result.stdout)
    assert host in _ISA_ORDER and active in _ISA_ORDER
    expected = host if not wanted else _ISA_ORDER[min(_ISA_ORDER.index(wanted), _ISA_ORDER.index(host))]
    assert active == expected


def test_legacy_no_avx512_switch_caps_at_avx2():
    result = _isa_in_subprocess({"RAZOR_EXT_NO_AVX512": "1"})
    assert result.returncode == 0, result.stderr
    active, host = json.loads(result.stdout)
    assert active == ("avx2" if host == "avx512" else host)


def test_unknown_isa_is_refused(monkeypatch):
    monkeypatch.setenv("RAZOR_EXT_ISA", "avx1024")
    with pytest.raises(ValueError, match="RAZOR_EXT_ISA='avx1024'.*avx512, avx2, scalar"):
        extension.check_isa_request()
