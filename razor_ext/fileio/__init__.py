"""File helpers shared by everything that writes files (configs, checkpoints, exports)."""
from razor_ext.fileio.atomic_write import atomic_path, atomic_write_bytes, atomic_write_text

__all__ = ['atomic_path', 'atomic_write_bytes', 'atomic_write_text']
