# SPOS supernet training on MNIST-5k: razor-ext search configs/nas/spos/spos_searchable_mnist_supernet.py
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/schedules/adam_3e.py',
          '../../_base_/default_runtime.py']
model = dict(type='mmrazor.SPOS',
             architecture=dict(type='SearchableMnistNet', width=8, depth=1),
             mutator=dict(type='mmrazor.NasMutator'))
