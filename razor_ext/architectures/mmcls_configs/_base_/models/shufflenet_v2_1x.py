# ShuffleNet-V2 1.0x for ImageNet-1k: 1024 features -> linear head.
model = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='mmcls.ShuffleNetV2', widen_factor=1.0),
    neck=dict(type='mmcls.GlobalAveragePooling'),
    head=dict(type='mmcls.LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='mmcls.CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
