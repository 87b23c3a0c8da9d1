# DSNAS on MNIST-5k, in MMRazor's layout (configs/nas/mmcls/dsnas/dsnas_supernet_8xb128_in1k.py),
# on the DARTS cell space with one-hot sampled edges (OneHotMutableOP) and plain-sum nodes:
# epoch 0 pretrains the weights, epoch 1 also learns the architecture (with a FLOPs penalty while
# the derived subnet is over `flops_constraints`, in MFLOPs at 1x1x28x28), epoch 2 fixes the
# most likely ops and finetunes that subnet. EpochInfoHook tells the algorithm the epoch.
#   razor-ext train configs/nas/dsnas/dsnas_supernet_1xb32_mnist5k.py
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/default_runtime.py']

_EDGE = dict(
    type='mmrazor.OneHotMutableOP',
    fix_threshold=0.3,
    candidates=dict(
        zero=dict(type='mmrazor.DartsZero'),
        skip_connect=dict(type='mmrazor.DartsSkipConnect'),
        max_pool_3x3=dict(type='mmrazor.DartsPoolBN', pool_type='max'),
        sep_conv_3x3=dict(type='mmrazor.DartsSepConv', kernel_size=3),
        sep_conv_5x5=dict(type='mmrazor.DartsSepConv', kernel_size=5),
        dil_conv_3x3=dict(type='mmrazor.DartsDilConv', kernel_size=3)))

supernet = dict(
    _scope_='mmcls',
    type='ImageClassifier',
    backbone=dict(
        type='mmrazor.DartsBackbone', in_channels=1, base_channels=8, num_layers=3,
        num_nodes=2, out_indices=(2, ), mutable_cfg=_EDGE,
        route_cfg=dict(type='mmrazor.DiffChoiceRoute', with_arch_param=False)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))

model = dict(
    type='mmrazor.DSNAS',
    architecture=supernet,
    mutator=dict(type='mmrazor.NasMutator'),
    pretrain_epochs=1,
    finetune_epochs=2,
    flops_constraints=2.0,
    estimator_cfg=dict(type='ResourceEstimator', input_shape=(1, 1, 28, 28), units='M'))

train_dataloader = dict(batch_size=32)
val_dataloader = dict(dataset=dict(split='test'))

optim_wrapper = dict(
    architecture=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5)),
    mutator=dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0, betas=(0.5, 0.999))))
param_scheduler = dict(type='CosineAnnealingLR', T_max=3, by_epoch=True)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
custom_hooks = [dict(type='EpochInfoHook')]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
