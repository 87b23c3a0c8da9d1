"""File helpers shared by everything that writes files (configs, checkpoints, exports)."""
from razor_ext.fileio.atomic_write import atomic_path, atomic_write_bytes, atomic_write_text
from razor_ext.fileio.checkpoint import (CHECKPOINT_FORMAT, CheckpointError, check_plain,
                                         load_checkpoint, save_checkpoint)

__all__ = ['CHECKPOINT_FORMAT', 'CheckpointError', 'atomic_path', 'atomic_write_bytes',
           'atomic_write_text', 'check_plain', 'load_checkpoint', 'save_checkpoint']
