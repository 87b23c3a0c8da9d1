"""Every repository path that ``razor-ext --help``, the README and docs/ print points at a file
that exists (the layout moved once; a stale path is a broken instruction)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from razor_ext.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
# A path into the repository: a known top folder, then name parts, ending in a file name.
PATH = re.compile(r'(?<![\w/.-])((?:configs|examples|docs|benchmarks|tests|csrc|python|razor_ext|'
                  r'\.ci)/[\w./-]*[\w-](?:\.\w+)?)')


def _paths(text: str) -> set[str]:
    found = set()
    for match in PATH.findall(text):
        path = match.rstrip('.')
        if '*' in path or '<' in path:
            continue
        found.add(path)
    return found


def _help_texts() -> str:
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._subparsers._group_actions:  # the sub-commands' own --help
        for sub in action.choices.values():
            texts.append(sub.format_help())
    return '\n'.join(texts)


def _missing(paths: set[str]) -> list[str]:
    return sorted(p for p in paths if not (ROOT / p).exists())


def test_cli_help_names_only_files_that_exist() -> None:
    text = _help_texts()
    assert _missing(_paths(text)) == []
    # The examples name shipped configs by scope (razor_ext::...): each resolves to a file.
    from razor_ext.config import resolve_config_path

    scoped = set(re.findall(r'razor_ext::[\w./-]+', text))
    assert scoped and all(resolve_config_path(name).is_file() for name in scoped)


@pytest.mark.parametrize('doc', ['README.md', *sorted(str(p.relative_to(ROOT))
                                                      for p in (ROOT / 'docs').glob('*.md'))])
def test_docs_name_only_files_that_exist(doc: str) -> None:
    assert _missing(_paths((ROOT / doc).read_text())) == []


def test_path_finder_catches_a_stale_path() -> None:
    text = 'run `razor-ext prune configs/pruning/l1_mnist5k.py` then see razor_ext/models/mutators/.'
    assert _paths(text) == {'configs/pruning/l1_mnist5k.py', 'razor_ext/models/mutators'}
    assert _missing(_paths(text)) == ['configs/pruning/l1_mnist5k.py', 'razor_ext/models/mutators']
