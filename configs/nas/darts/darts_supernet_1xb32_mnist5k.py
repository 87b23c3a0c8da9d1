# DARTS search on MNIST-5k, in MMRazor's layout (configs/_base_/nas_backbones/darts_supernet.py +
# configs/nas/mmcls/darts/darts_supernet_unroll_1xb96_cifar10.py) scaled to 28x28 digits on a CPU:
# 3 cells of 2 nodes, 4 base channels. The weights train on the train split, the architecture on
# the val split (DARTS splits its training set in two), validation on the test split.
#   razor-ext train configs/nas/darts/darts_supernet_1xb32_mnist5k.py
# The derived genotype (argmax of the architecture parameters) is written by
#   export_fix_subnet(runner.model.architecture, path='darts_subnet.yaml')
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/default_runtime.py']

mutable_cfg = dict(
    type='mmrazor.DiffMutableOP',
    candidates=dict(
        zero=dict(type='mmrazor.DartsZero'),
        skip_connect=dict(type='mmrazor.DartsSkipConnect', use_drop_path=True),
        max_pool_3x3=dict(type='mmrazor.DartsPoolBN', pool_type='max', use_drop_path=True),
        avg_pool_3x3=dict(type='mmrazor.DartsPoolBN', pool_type='avg', use_drop_path=True),
        sep_conv_3x3=dict(type='mmrazor.DartsSepConv', kernel_size=3, use_drop_path=True),
        sep_conv_5x5=dict(type='mmrazor.DartsSepConv', kernel_size=5, use_drop_path=True),
        dil_conv_3x3=dict(type='mmrazor.DartsDilConv', kernel_size=3, use_drop_path=True),
        dil_conv_5x5=dict(type='mmrazor.DartsDilConv', kernel_size=5, use_drop_path=True)))

route_cfg = dict(type='mmrazor.DiffChoiceRoute', with_arch_param=True)

nas_backbone = dict(
    type='mmrazor.DartsBackbone',
    in_channels=1,
    base_channels=4,
    num_layers=3,
    num_nodes=2,
    stem_multiplier=3,
    out_indices=(2, ),
    mutable_cfg=mutable_cfg,
    route_cfg=route_cfg,
    norm_cfg=dict(type='BN', affine=False))

model = dict(
    type='mmrazor.Darts',
    architecture=dict(
        type='mmcls.ImageClassifier',
        backbone=nas_backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5))),
    mutator=dict(type='mmrazor.NasMutator'),
    unroll=False)

train_dataloader = dict(batch_size=32)
val_dataloader = dict(dataset=dict(split='test'))

# MMRazor's DARTS optimizers: SGD for the weights, Adam for the architecture parameters
optim_wrapper = dict(
    constructor='mmrazor.SeparateOptimWrapperConstructor',
    architecture=dict(optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=3e-4)),
    mutator=dict(optimizer=dict(type='Adam', lr=3e-4, weight_decay=1e-3)))
search_epochs = 2
param_scheduler = dict(type='CosineAnnealingLR', T_max=search_epochs, eta_min=1e-3, by_epoch=True)

train_cfg = dict(
    type='mmrazor.DartsEpochBasedTrainLoop',
    mutator_dataloader=dict(
        batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='EmbeddedDigits', name='mnist5k', split='val')),
    max_epochs=search_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
