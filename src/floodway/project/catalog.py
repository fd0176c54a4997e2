"""What the loader knows about the org's modules and fields.

Three sources, merged: the standard modules every org starts with (``crm.standard``), the
``[[module]]`` / ``[[field]]`` tables of the manifest itself, and, when the caller has the org at
hand, its metadata (the ``schema`` argument of ``load_project``). Only with a schema is the picture
complete: without one a name the loader does not know may still be a field someone added in the
web UI, so "unknown module/field" is reported only when a schema was given. Types are used where
known (standard fields, manifest fields, a schema given as name -> type) for the checks that need
them (``.id`` only on lookups, ``at`` only on date fields, criteria operators).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from floodway.crm.standard import standard_modules

from .merge_fields import SYSTEM_FIELD_TYPES

Schema = Mapping[str, Collection[str]]
"""Module API name -> its field API names, or a mapping field API name -> floodway type
(``{m.api_name: metadata.field_types(m) for m in metadata.modules()}``)."""

READ_ONLY_FIELDS: Final = frozenset(
    {"id", "created_by", "modified_by", "created_time", "modified_time"}
)
REFERENCE_TYPES: Final = frozenset({"lookup", "parent", "ownerlookup"})


@dataclass(slots=True)
class ModuleInfo:
    api_name: str
    fields: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # lower -> (name, type)

    def add(self, name: str, ftype: str | None) -> None:
        low = name.lower()
        old = self.fields.get(low)
        if old is None or (old[1] is None and ftype is not None):
            self.fields[low] = (name, ftype)

    def field(self, name: str) -> tuple[str, str | None] | None:
        return self.fields.get(name.lower())

    def field_types(self) -> dict[str, str]:
        """API name -> type for the fields whose type is known."""
        return {n: t for n, t in self.fields.values() if t is not None}


class Catalog:
    """Modules and fields known to the loader; ``complete`` when built with the org's schema."""

    def __init__(self, schema: Schema | None) -> None:
        self.complete = schema is not None
        self.modules: dict[str, ModuleInfo] = {}
        for mod in standard_modules():
            info = self._module(mod.api_name)
            for f in mod.fields.values():
                info.add(f.api_name, f.type)
        for name, fields in (schema or {}).items():
            info = self._module(name)
            if isinstance(fields, Mapping):
                for fname, ftype in fields.items():
                    info.add(str(fname), str(ftype).lower() if ftype else None)
            else:
                for fname in fields:
                    info.add(str(fname), None)

    def _module(self, name: str) -> ModuleInfo:
        info = self.modules.get(name.lower())
        if info is None:
            info = ModuleInfo(name)
            for fname, ftype in SYSTEM_FIELD_TYPES.items():
                info.add(fname, ftype)
            self.modules[name.lower()] = info
        return info

    def add_module(self, name: str) -> None:
        """A ``[[module]]`` of the manifest (custom modules get a text ``Name`` field)."""
        self._module(name).add("Name", "text")

    def add_field(self, module: str, name: str, ftype: str) -> None:
        info = self.modules.get(module.lower())
        if info is not None:
            info.add(name, ftype)

    def module(self, name: str) -> ModuleInfo | None:
        return self.modules.get(name.lower())

    def is_standard(self, name: str) -> bool:
        return name.lower() in _STANDARD

    def standard_field(self, module: str, name: str) -> bool:
        return (module.lower(), name.lower()) in _STANDARD_FIELDS


_STANDARD: Final = frozenset(m.api_name.lower() for m in standard_modules())
_STANDARD_FIELDS: Final = frozenset(
    (m.api_name.lower(), f.lower()) for m in standard_modules() for f in m.fields
)
