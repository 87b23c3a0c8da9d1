# Logit KD (Hinton et al. 2015) from MnistCNN(width=16) to MnistCNN(width=8); set teacher_ckpt to a
# trained teacher (razor-ext train razor_ext::classification/mnist5k_cnn.py writes one; docs/workflow.md).
_base_ = ['../../_base_/datasets/mnist5k.py', '../../_base_/schedules/adam_3e.py',
          '../../_base_/default_runtime.py']
model = dict(
    type='mmrazor.SingleTeacherDistill',
    architecture=dict(type='MnistCNN', width=8),
    teacher=dict(type='MnistCNN', width=16),
    teacher_ckpt=None,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
        teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
        distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0, loss_weight=1.0)),
        loss_forward_mappings=dict(loss_kd=dict(
            preds_S=dict(from_student=True, recorder='logits'),
            preds_T=dict(from_student=False, recorder='logits')))))
val_cfg = dict(type='SingleTeacherDistillValLoop')
