# ResNet-18 for ImageNet-1k: backbone -> global average pooling -> linear head (512 -> 1000).
model = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='mmcls.ResNet', depth=18, num_stages=4, out_indices=(3, ), style='pytorch'),
    neck=dict(type='mmcls.GlobalAveragePooling'),
    head=dict(type='mmcls.LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='mmcls.CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
