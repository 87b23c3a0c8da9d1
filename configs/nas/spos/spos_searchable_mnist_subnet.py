# Retrain the subnet found by spos_searchable_mnist_search.py (MMRazor's `sub_model` entry): the
# supernet fixed to best_subnet.yaml, started from the sliced weights best_subnet.pth. The
# fix_subnet below is an example (a search result of one run) so that the config runs alone.
# razor-ext train razor_ext::nas/spos/spos_searchable_mnist_subnet.py \
#     --cfg-options model.architecture.fix_subnet=<search work dir>/best_subnet.yaml \
#                   load_from=<search work dir>/best_subnet.pth
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/schedules/adam_3e.py',
          '../../_base_/default_runtime.py']
model = dict(type='BaseAlgorithm',
             architecture=dict(type='mmrazor.sub_model',
                               cfg=dict(type='SearchableMnistNet', width=8, depth=1),
                               fix_subnet={'features.1': {'chosen': 'dwsep3x3'},
                                           'features.4': {'chosen': 'skip'},
                                           'features.6': {'chosen': 'conv5x5'}}))
