# SPOS-MobileNet supernet on ImageNet-1k, in MMRazor's layout and with its model dict
# (configs/_base_/nas_backbones/spos_mobilenet_supernet.py + configs/nas/mmcls/spos/
# spos_mobilenet_supernet_8xb128_in1k.py).
_MB = [(k, e) for e in (3, 6) for k in (3, 5, 7)]
_STAGE_MUTABLE = dict(
    _scope_='mmrazor',
    type='OneShotMutableOP',
    candidates={
        **{f'mb_k{k}e{e}': dict(type='MBBlock', kernel_size=k, expand_ratio=e,
                                act_cfg=dict(type='ReLU6')) for k, e in _MB},
        'identity': dict(type='Identity')})

_FIRST_MUTABLE = dict(
    _scope_='mmrazor',
    type='OneShotMutableOP',
    candidates=dict(
        mb_k3e1=dict(type='MBBlock', kernel_size=3, expand_ratio=1,
                     act_cfg=dict(type='ReLU6'))))

# channels, num_blocks, stride, mutable_cfg per layer
arch_setting = [
    [24, 1, 1, _FIRST_MUTABLE],
    [32, 4, 2, _STAGE_MUTABLE],
    [56, 4, 2, _STAGE_MUTABLE],
    [112, 4, 2, _STAGE_MUTABLE],
    [128, 4, 1, _STAGE_MUTABLE],
    [256, 4, 2, _STAGE_MUTABLE],
    [432, 1, 1, _STAGE_MUTABLE],
]

nas_backbone = dict(
    _scope_='mmrazor',
    type='SearchableMobileNetV2',
    first_channels=40,
    last_channels=1728,
    widen_factor=1.0,
    arch_setting=arch_setting)

supernet = dict(
    _scope_='mmcls',
    type='ImageClassifier',
    backbone=nas_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1728,
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
    mutator=dict(type='mmrazor.NasMutator'))

# the input shape tests/test_configs.py trains a step on
example_input_shape = (4, 3, 32, 32)
