"""razor_ext: model compression (NAS, pruning, distillation, quantization) with C++/CUDA kernels."""
__version__ = "0.1.0"
