"""Loading razor_ext._C and build_info(): the facts it reports and the errors a broken build gives."""
from __future__ import annotations

import types

import pytest
import torch

import razor_ext
from razor_ext import extension


def test_build_info_reports_the_build():
    info = razor_ext.build_info()
    assert set(info) == {"version", "torch", "cuda", "cuda_archs", "openmp", "num_threads", "ops"}
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
