# SPOS supernet training on MNIST-5k: razor-ext search configs/nas/spos/spos_searchable_mnist_supernet.py
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/schedules/adam_3e.py',
          '../../_base_/default_runtime.py']
model = dict(type='mmrazor.SPOS',
             architecture=dict(type='SearchableMnistNet', width=8, depth=1),
             mutator=dict(type='mmrazor.NasMutator'))
# The schedule's LR (Adam 3e-3) was tuned for one process of 64 images. Under torchrun, enable the
# linear scaling rule (--cfg-options auto_scale_lr.enable=True): LR x world_size * 64 / 64.
auto_scale_lr = dict(enable=False, base_batch_size=64)
