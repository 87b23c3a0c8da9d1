"""Distillation losses, registered in ``MODELS`` under MMRazor's class names."""
from razor_ext.distill.losses.ab_loss import ABLoss
from razor_ext.distill.losses.at_loss import ATLoss
from razor_ext.distill.losses.crd_loss import CRDLoss
from razor_ext.distill.losses.cross_entropy_loss import CrossEntropyLoss
from razor_ext.distill.losses.cwd import ChannelWiseDivergence
from razor_ext.distill.losses.dafl_loss import ActivationLoss, InformationEntropyLoss, OnehotLikeLoss
from razor_ext.distill.losses.decoupled_kd import DKDLoss
from razor_ext.distill.losses.dist_loss import DISTLoss
from razor_ext.distill.losses.factor_transfer_loss import FTLoss
from razor_ext.distill.losses.fbkd_loss import FBKDLoss
from razor_ext.distill.losses.functional import cwd_loss, kd_kl_div
from razor_ext.distill.losses.kd_soft_ce_loss import KDSoftCELoss
from razor_ext.distill.losses.kl_divergence import KLDivergence
from razor_ext.distill.losses.l1_loss import L1Loss
from razor_ext.distill.losses.l2_loss import L2Loss
from razor_ext.distill.losses.mgd_loss import MGDLoss
from razor_ext.distill.losses.ofd_loss import OFDLoss
from razor_ext.distill.losses.pkd_loss import PKDLoss
from razor_ext.distill.losses.relational_kd import AngleWiseRKD, DistanceWiseRKD
from razor_ext.distill.losses.weighted_soft_label_distillation import WSLD

__all__ = ['ABLoss', 'ATLoss', 'CRDLoss', 'CrossEntropyLoss', 'ChannelWiseDivergence',
           'ActivationLoss', 'InformationEntropyLoss', 'OnehotLikeLoss', 'DKDLoss', 'DISTLoss',
           'FTLoss', 'FBKDLoss', 'KDSoftCELoss', 'KLDivergence', 'L1Loss', 'L2Loss', 'MGDLoss',
           'OFDLoss', 'PKDLoss', 'AngleWiseRKD', 'DistanceWiseRKD', 'WSLD', 'kd_kl_div',
           'cwd_loss']
