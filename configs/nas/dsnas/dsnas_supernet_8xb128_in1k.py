# DSNAS ShuffleNetV2 supernet on ImageNet-1k with MMRazor's model dict
# (configs/_base_/nas_backbones/dsnas_shufflenet_supernet.py + configs/nas/mmcls/dsnas/
# dsnas_supernet_8xb128_in1k.py): OneHotMutableOP blocks that fix themselves once one candidate
# leads by 0.3 in probability; 15 pretraining epochs, architecture fixed at epoch 85.
# `flops_constraints` is in the estimator's MFLOPs (2 per multiply-add): MMRazor's 300 M
# multiply-adds is 600 here. Data and schedule: bring your ImageNet loaders; with the Runner add
# custom_hooks = [dict(type='EpochInfoHook')] so the algorithm sees the epoch.
norm_cfg = dict(type='BN', eps=0.01)

_STAGE_MUTABLE = dict(
    type='mmrazor.OneHotMutableOP',
    fix_threshold=0.3,
    candidates=dict(
        shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3, norm_cfg=norm_cfg),
        shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5, norm_cfg=norm_cfg),
        shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7, norm_cfg=norm_cfg),
        shuffle_xception=dict(type='ShuffleXception', norm_cfg=norm_cfg)))

arch_setting = [
    [64, 4, _STAGE_MUTABLE],
    [160, 4, _STAGE_MUTABLE],
    [320, 8, _STAGE_MUTABLE],
    [640, 4, _STAGE_MUTABLE],
]

nas_backbone = dict(
    type='mmrazor.SearchableShuffleNetV2',
    widen_factor=1.0,
    arch_setting=arch_setting,
    norm_cfg=norm_cfg)

data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)

supernet = dict(
    _scope_='mmcls',
    type='ImageClassifier',
    data_preprocessor=data_preprocessor,
    backbone=nas_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(
            type='LabelSmoothLoss',
            num_classes=1000,
            label_smooth_val=0.1,
            mode='original',
            loss_weight=1.0),
        topk=(1, 5)))

search_epochs = 85
model = dict(
    type='mmrazor.DSNAS',
    architecture=supernet,
    mutator=dict(type='mmrazor.NasMutator'),
    pretrain_epochs=15,
    finetune_epochs=search_epochs,
    flops_constraints=600.0,
    estimator_cfg=dict(type='ResourceEstimator', input_shape=(1, 3, 224, 224), units='M'))

optim_wrapper = dict(
    architecture=dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=4e-5)),
    mutator=dict(optimizer=dict(type='Adam', lr=0.001, weight_decay=0.0, betas=(0.5, 0.999))))

# the input shape tests/test_configs.py trains a step on
example_input_shape = (2, 3, 32, 32)
