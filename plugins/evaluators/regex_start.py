"""Which characters a regular expression can start with, read from Python's own regex parser.

Both rule scanners use it to skip rules that cannot match where they stand: the labeler buckets its phrase
alternatives by first character (chexpert_labeler.py), the PTB lexer tries only the rules that can start with
the character at hand (ptb_lexer.py). Both answers err towards "maybe": a rule is never wrongly skipped.
"""

from __future__ import annotations

try:
    from re import _constants as _C
    from re import _parser
except ImportError:  # Python < 3.11
    import sre_constants as _C  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]


def parse(pattern: str, flags: int = 0) -> list:
    """The parsed form of ``pattern`` (the items ``may_start`` reads)."""
    return list(_parser.parse(pattern, flags))


def first_chars(pattern: str) -> tuple[set[str] | None, bool]:
    """(the characters ``pattern`` can start with, or None when not a small known set; whether it can match
    empty). Case-sensitive, as the labeler's lower-cased phrases are."""
    return _first_set(parse(pattern))


def _first_set(items: list) -> tuple[set[str] | None, bool]:
    """(characters a parsed pattern can start with or None if unknown, whether it can match empty)."""
    out: set[str] = set()
    for op, av in items:
        if op is _C.LITERAL:
            return out | {chr(av)}, False
        if op is _C.IN:
            for kind, value in av:
                if kind is _C.LITERAL:
                    out.add(chr(value))
                elif kind is _C.RANGE:
                    out.update(chr(x) for x in range(value[0], value[1] + 1))
                else:
                    return None, False
            return out, False
        if op is _C.SUBPATTERN or op is _C.BRANCH or op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            parts = [av[3]] if op is _C.SUBPATTERN else av[1] if op is _C.BRANCH else [av[2]]
            can_be_empty = op is not _C.SUBPATTERN and op is not _C.BRANCH and av[0] == 0
            for part in parts:
                chars, empty = _first_set(list(part))
                if chars is None:
                    return None, False
                out |= chars
                can_be_empty = can_be_empty or empty
            if not can_be_empty:
                return out, False
            continue
        return None, False
    return out, True


_CATEGORIES = {_C.CATEGORY_DIGIT: str.isdigit, _C.CATEGORY_NOT_DIGIT: lambda c: not c.isdigit(),
               _C.CATEGORY_SPACE: str.isspace, _C.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
               _C.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
               _C.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_")}


def _in_set(items: list, char: str) -> bool:
    """Whether ``char`` (either case) is in a parsed character class."""
    negate, hit = False, False
    for kind, value in items:
        if kind is _C.NEGATE:
            negate = True
        elif kind is _C.LITERAL:
            hit = hit or chr(value).lower() == char.lower()
        elif kind is _C.RANGE:
            hit = hit or any(value[0] <= ord(c) <= value[1] for c in {char, char.lower(), char.upper()})
        elif kind is _C.CATEGORY:
            hit = hit or _CATEGORIES.get(value, lambda c: True)(char)
        else:
            return True  # unknown: let the rule be tried
    return hit != negate


def _may_start(items: list, char: str) -> tuple[bool, bool]:
    """(whether a parsed pattern can start with ``char``, whether it can match empty); errs towards True."""
    for op, av in items:
        if op is _C.LITERAL:
            return chr(av).lower() == char.lower(), False
        if op is _C.IN:
            return _in_set(av, char), False
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue  # zero width
        if op is _C.SUBPATTERN or op is _C.BRANCH or op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            parts = [av[3]] if op is _C.SUBPATTERN else av[1] if op is _C.BRANCH else [av[2]]
            results = [_may_start(list(part), char) for part in parts]
            if any(accept for accept, _ in results):
                return True, False
            empty = any(e for _, e in results) or (op not in (_C.SUBPATTERN, _C.BRANCH) and av[0] == 0)
            if not empty:
                return False, False
            continue
        return True, False  # anything else: let the rule be tried
    return False, True


def may_start(parsed: list, char: str) -> bool:
    """Whether a parsed pattern can start with ``char`` (either case: for IGNORECASE patterns)."""
    return _may_start(parsed, char)[0]
