"""Find the fenced ```python blocks of README.md and docs/*.md, and run them (used by
``test_docs_code_blocks.py``; also runnable: ``python tests/docs_blocks.py BLOCKS.json OUT.json``).

A block runs exactly as written, alone (a fresh namespace, as a user pasting it into a script
would), from an empty directory outside the repository. It is skipped only when the line just
before its fence is ``<!-- skip-test: reason -->`` or when it needs CUDA and none is here.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r'^```(\w*)\s*$')
SKIP = re.compile(r'^<!--\s*skip-test:\s*(.+?)\s*-->\s*$')


@dataclass
class Block:
    file: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f'{self.file}:{self.line}'


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / 'README.md'] + sorted((root / 'docs').glob('*.md'))


def python_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    lines = path.read_text(encoding='utf-8').splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        lang, start = match.group(1), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith('```'):
            body.append(lines[i])
            i += 1
        i += 1
        if lang not in ('python', 'py'):
            continue
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), '')
        skip = SKIP.match(prev.strip())
        code = '\n'.join(body) + '\n'
        reason = skip.group(1) if skip else None
        if reason is None and 'cuda' in code and not _cuda():
            reason = 'needs a CUDA device'
        blocks.append(Block(str(path.relative_to(root)), start + 1, code, reason))
    return blocks


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [b for path in doc_files(root) for b in python_blocks(path, root)]


def _run_one(block: dict, result_file: str) -> None:
    os.chdir(tempfile.mkdtemp(prefix='docblock_'))
    try:
        exec(compile(block['code'], f"{block['file']}:{block['line']}", 'exec'), {'__name__': '__main__'})
        message = ''
    except BaseException:  # noqa: BLE001 - any failure of a block is the result
        message = traceback.format_exc()
    Path(result_file).write_text(message)


def run_blocks(blocks: list[dict], out: Path) -> None:
    """Run each block in a process of its own (forked after ``import torch, razor_ext``, so
    registrations of one block never leak into the next), in an empty folder; write
    ``{id: traceback or ''}`` to ``out``."""
    import multiprocessing

    import razor_ext  # noqa: F401 - paid once, before the forks

    ctx = multiprocessing.get_context('fork')
    results = {}
    for block in blocks:
        key = f"{block['file']}:{block['line']}"
        result_file = tempfile.mktemp(prefix='docblock_result_')
        proc = ctx.Process(target=_run_one, args=(block, result_file))
        proc.start()
        proc.join(600)
        if proc.is_alive():
            proc.kill()
            results[key] = 'timed out after 600 s'
        elif not Path(result_file).is_file():
            results[key] = f'the block\'s process died (exit code {proc.exitcode})'
        else:
            results[key] = Path(result_file).read_text()
    out.write_text(json.dumps(results))


if __name__ == '__main__':
    run_blocks(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
