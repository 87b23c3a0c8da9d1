"""Convert a distillation algorithm checkpoint into a checkpoint of the bare student."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from razor_ext.fileio import load_checkpoint, save_checkpoint

_STUDENT_PREFIX = 'architecture.'


def student_state_dict_from(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """Keys under ``architecture.`` (ours and MMRazor's layout), prefix removed; teacher,
    distiller and connector entries are dropped.

    Example:
        >>> import torch
        >>> student_state_dict_from({'state_dict': {'architecture.fc.weight': torch.ones(1),
        ...                                         'teacher.fc.weight': torch.ones(1)}})
        {'fc.weight': tensor([1.])}
    """
    state = checkpoint.get('state_dict', checkpoint)
    student = {k[len(_STUDENT_PREFIX):]: v for k, v in state.items()
               if k.startswith(_STUDENT_PREFIX)}
    if not student:
        raise ValueError(f'checkpoint has no "{_STUDENT_PREFIX}*" keys: not a distillation '
                         f'algorithm checkpoint (first keys: {list(state)[:5]})')
    return student


def convert_to_student_checkpoint(src: str | Path, dst: str | Path) -> dict[str, Any]:
    """Read an algorithm checkpoint file and write the student's state dict (atomically).

    Returns the student's state dict, which loads into the bare student with
    ``load_state_dict(strict=True)``.
    """
    checkpoint = load_checkpoint(src)
    student = student_state_dict_from(checkpoint)
    save_checkpoint({'state_dict': student}, dst)
    return student
