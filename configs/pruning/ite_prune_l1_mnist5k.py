# Iterative L1 pruning of MnistCNN to half its channels, fine-tuning in between:
# razor-ext prune configs/pruning/ite_prune_l1_mnist5k.py
_base_ = ['../_base_/datasets/mnist5k.py', '../_base_/schedules/adam_3e.py', '../_base_/default_runtime.py']
model = dict(type='mmrazor.ItePruneAlgorithm',
             architecture=dict(type='MnistCNN', width=16),
             mutator_cfg=dict(type='ChannelMutator',
                              parse_cfg=dict(type='ChannelAnalyzer', tracer='auto', demo_input=(1, 1, 28, 28))),
             target_pruning_ratio=0.5, step_freq=20, prune_times=2)
