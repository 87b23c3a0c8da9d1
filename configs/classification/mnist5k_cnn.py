# A small CNN on the embedded MNIST-5k: razor-ext train configs/classification/mnist5k_cnn.py
_base_ = ['../_base_/datasets/mnist5k.py', '../_base_/schedules/adam_3e.py', '../_base_/default_runtime.py']
model = dict(type='BaseAlgorithm', architecture=dict(type='MnistCNN', width=16))
