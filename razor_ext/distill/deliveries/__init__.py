"""Deliveries (MMRazor's task_modules/delivery): replay teacher outputs in the student."""
from razor_ext.distill.deliveries.delivery_manager import DistillDeliveryManager
from razor_ext.distill.deliveries.distill_delivery import (DistillDelivery, FunctionOutputsDelivery,
                                                           MethodOutputsDelivery)

__all__ = ['DistillDelivery', 'DistillDeliveryManager', 'FunctionOutputsDelivery',
           'MethodOutputsDelivery']
