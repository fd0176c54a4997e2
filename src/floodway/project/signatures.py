"""Whether a function fits where the manifest attaches it (functions-platform.md §1-§2).

One set of rules and messages for both places a function can come from: a file in ``functions/``
(checked by ``load_project``) and a function that already lives in the org (checked by the deploy
step through ``check_org_functions``), so that the user reads the same sentence either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .model import FunctionRef
from .problems import Problem

USED_BY: Final = {
    "automation": "a workflow action",
    "button": "a button",
    "related_list": "a related list",
    "validation": "a validation rule",
    "schedule": "a schedule",
}


@dataclass(frozen=True, slots=True)
class FunctionSignature:
    """What the org knows about a live function: category and typed parameters (header order)."""

    category: str
    params: tuple[tuple[str, str], ...] = ()  # (name, type)


def signature_problems(
    api_name: str,
    signature: FunctionSignature,
    category: str,
    arguments: Iterable[str] = (),
) -> list[tuple[str | None, str]]:
    """``(key suffix, message)`` pairs; key ``None`` means the function key itself, otherwise
    ``arguments.<name>``. ``category == ""`` accepts any category ([[function]] settings)."""
    out: list[tuple[str | None, str]] = []
    if category and signature.category != category:
        out.append(
            (
                None,
                f'function "{api_name}" is {_a(signature.category)} function; '
                f"{USED_BY[category]} needs {_a(category)} function",
            )
        )
        return out  # its parameters do not matter: it cannot be used here at all
    names = [n for n, _ in signature.params]
    shown = ", ".join(f"{t} {n}" for n, t in signature.params)
    if category == "schedule" and names:
        out.append(
            (None, f'schedule function "{api_name}" must be parameterless; it declares {shown}')
        )
    if category == "validation":
        for p in names:
            if p != "crmAPIRequest":
                out.append(
                    (
                        None,
                        f'validation function "{api_name}" receives only crmAPIRequest; '
                        f'parameter "{p}" would always be null',
                    )
                )
    for a in arguments:
        if a not in names:
            has = f"parameters: {shown}" if names else "it has no parameters"
            out.append((f"arguments.{a}", f'"{a}" is not a parameter of {api_name} ({has})'))
    return out


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def check_org_functions(
    refs: Sequence[FunctionRef], org_functions: Mapping[str, FunctionSignature]
) -> list[Problem]:
    """Problems of the manifest's references to functions that are not in ``functions/``:
    each must exist in the org (api names compare case-insensitively) and fit its use."""
    by_lower = {name.lower(): (name, sig) for name, sig in org_functions.items()}
    out: list[Problem] = []
    for ref in refs:
        found = by_lower.get(ref.api_name.lower())
        if found is None:
            out.append(
                Problem.at(
                    ref.loc,
                    f'function "{ref.api_name}" is neither in functions/ nor in the org',
                    ref.key,
                )
            )
            continue
        name, sig = found
        for suffix, message in signature_problems(name, sig, ref.category, ref.arguments):
            key = ref.key if suffix is None else _sibling(ref.key, suffix)
            out.append(Problem.at(ref.loc, message, key))
    return out


def _sibling(key: str, suffix: str) -> str:
    """``arguments.x`` next to the ``function`` key (same inline-table prefix, if any)."""
    prefix = key.rpartition(".")[0]
    return f"{prefix}.{suffix}" if prefix else suffix
