# int8 PTQ of a trained MnistCNN (docs/workflow.md):
# razor-ext quantize razor_ext::quantization/ptq_int8_mnist5k.py --cfg-options model.float_checkpoint=...
_base_ = ['../_base_/datasets/mnist5k.py', '../_base_/default_runtime.py']
model = dict(type='mmrazor.MMArchitectureQuant', architecture=dict(type='MnistCNN', width=16),
             input_shapes=(1, 1, 28, 28), mode='ptq', float_checkpoint=None)
train_cfg = dict(type='PTQLoop', calibrate_steps=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
