# Adam, three epochs, cosine decay; validation after every epoch.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=3e-3, weight_decay=0.0))
param_scheduler = dict(type='CosineAnnealingLR', T_max=3, by_epoch=True)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
