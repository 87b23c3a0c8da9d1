# MobileNet-V2 1.0x for ImageNet-1k: 1280 features -> linear head.
model = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='mmcls.MobileNetV2', widen_factor=1.0),
    neck=dict(type='mmcls.GlobalAveragePooling'),
    head=dict(type='mmcls.LinearClsHead', num_classes=1000, in_channels=1280,
              loss=dict(type='mmcls.CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
