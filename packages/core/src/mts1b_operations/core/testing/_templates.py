"""``match_template``: an HTTP answer pinned byte for byte, with placeholders for generated values."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["match_template"]


def match_template(
    body: bytes,
    template: bytes,
    *,
    patterns: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Assert ``body`` is ``template`` with each ``<name>`` filled in; return the values found.

    Every byte outside a placeholder is literal. A name in ``known`` must have that value; a new
    one matches ``patterns[name]`` (or, for ``<kind__name>``, ``patterns[kind]``) and, where it
    recurs, has the same value each time. The result includes ``known``, so it can be passed on.
    """
    known = dict(known or {})
    pattern, seen = [], set(known)
    for i, part in enumerate(re.split(rb"<(\w+)>", template)):
        if i % 2 == 0:
            pattern.append(re.escape(part.decode()))
            continue
        name = part.decode()
        if name in known:
            pattern.append(re.escape(known[name]))
        elif name in seen:
            pattern.append(f"(?P={name})")
        else:
            seen.add(name)
            found = patterns.get(name) or patterns.get(name.split("__")[0])
            if found is None:
                raise KeyError(f"patterns: no pattern for the placeholder <{name}>")
            pattern.append(f"(?P<{name}>{found})")
    match = re.fullmatch("".join(pattern), body.decode())
    assert match is not None, f"the answer\n{body.decode()}\ndoes not match\n{template.decode()}"
    return {**known, **{k: v for k, v in match.groupdict().items() if v is not None}}
