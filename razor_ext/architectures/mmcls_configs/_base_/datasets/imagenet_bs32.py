# ImageNet-1k, 32 images per GPU: random-resized 224 crops for training, 256-short-edge + 224
# centre crop for evaluation; BGR-loaded images normalised with the ImageNet RGB statistics.
dataset_type = 'ImageNet'
data_preprocessor = dict(num_classes=1000, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=5,
    dataset=dict(type=dataset_type, data_root='data/imagenet', ann_file='meta/train.txt',
                 data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32, num_workers=5,
    dataset=dict(type=dataset_type, data_root='data/imagenet', ann_file='meta/val.txt',
                 data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
