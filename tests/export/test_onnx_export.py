import pytest
import torch
from torch import nn

from razor_ext.export import OnnxVerificationError, onnxruntime_outputs, to_onnx
from tests.supernet.elastic_supernets import ElasticMobileNet


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        feat = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        return {'logits': self.fc(feat), 'feat': feat}


def test_exports_and_matches_onnxruntime_with_dynamic_batch(tmp_path):
    model = TwoHeads().train()
    path = to_onnx(model, torch.randn(2, 3, 8, 8), tmp_path / 'm.onnx')
    assert model.training  # mode restored
    x = torch.randn(5, 3, 8, 8)
    got = onnxruntime_outputs(path, [x])
    model.eval()
    with torch.no_grad():
        want = model(x)
    torch.testing.assert_close(torch.from_numpy(got[0]), want['logits'], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(got[1]), want['feat'], rtol=1e-4, atol=1e-5)


def test_failed_export_keeps_the_previous_file(tmp_path):
    path = tmp_path / 'm.onnx'
    to_onnx(nn.Linear(3, 2), torch.randn(1, 3), path)
    before = path.read_bytes()

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError('boom')

    with pytest.raises(RuntimeError, match='boom'):
        to_onnx(Broken(), torch.randn(1, 3), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['m.onnx']  # no temp file left


def test_verification_catches_a_wrong_export(tmp_path, monkeypatch):
    import razor_ext.export.onnx_export as mod

    real = mod.onnxruntime_outputs
    monkeypatch.setattr(mod, 'onnxruntime_outputs', lambda p, i: [o + 1.0 for o in real(p, i)])
    with pytest.raises(OnnxVerificationError, match='differs from PyTorch'):
        to_onnx(nn.Linear(3, 2), torch.randn(1, 3), tmp_path / 'm.onnx')


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match='example_inputs'):
        to_onnx(nn.Linear(3, 2), [1, 2], tmp_path / 'm.onnx')
    with pytest.raises(TypeError, match='nn.Module'):
        to_onnx(lambda x: x, torch.randn(1, 3), tmp_path / 'm.onnx')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        to_onnx(nn.Linear(3, 2), torch.randn(1, 3), tmp_path / 'nope' / 'm.onnx')


def test_a_supernet_is_refused_with_the_way_to_its_subnet(tmp_path):
    with pytest.raises(ValueError, match=r"dynamic op, which ONNX cannot hold.*export_fix_subnet"):
        to_onnx(ElasticMobileNet(), torch.randn(1, 1, 28, 28), tmp_path / 'supernet.onnx')
    assert not (tmp_path / 'supernet.onnx').exists()
