# MobileNet-V2's schedule: SGD 0.045, multiplied by 0.98 after every epoch, 300 epochs.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.045, momentum=0.9, weight_decay=0.00004))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=1, gamma=0.98)
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
