# SPOS ShuffleNetV2 supernet on ImageNet-1k, in MMRazor's layout and with its model dict
# (configs/_base_/nas_backbones/spos_shufflenet_supernet.py + configs/nas/mmcls/spos/
# spos_shufflenet_supernet_8xb128_in1k.py): the same types, arguments and module paths, so its
# searched subnet files (backbone.layers.<stage>.<block>: {chosen: ...}) load onto it.
# The supernet has 8,488,600 parameters with the 1000-class head.
_STAGE_MUTABLE = dict(
    _scope_='mmrazor',
    type='OneShotMutableOP',
    candidates=dict(
        shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
        shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
        shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7),
        shuffle_xception=dict(type='ShuffleXception')))

# channels, num_blocks, mutable_cfg per stage (the first block of each stage has stride 2)
arch_setting = [
    [64, 4, _STAGE_MUTABLE],
    [160, 4, _STAGE_MUTABLE],
    [320, 8, _STAGE_MUTABLE],
    [640, 4, _STAGE_MUTABLE],
]

nas_backbone = dict(
    _scope_='mmrazor',
    type='SearchableShuffleNetV2',
    widen_factor=1.0,
    arch_setting=arch_setting)

preprocess_cfg = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

supernet = dict(
    _scope_='mmcls',
    type='ImageClassifier',
    data_preprocessor=preprocess_cfg,
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

model = dict(
    type='mmrazor.SPOS',
    architecture=supernet,
    data_preprocessor=dict(type='ClsDataPreprocessor', **preprocess_cfg),
    mutator=dict(type='mmrazor.NasMutator'))

# the input shape tests/test_configs.py trains a step on
example_input_shape = (4, 3, 32, 32)
