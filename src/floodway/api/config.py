"""What the HTTP layer needs from the settings, with the defaults of the compat and security docs.

Read once from the ``Settings`` object (architecture.md "Configuration"); settings the object does
not define yet fall back to the defaults here, so the API works with any ``Settings`` version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ApiConfig:
    # Public base URL (compat §2.2 api_domain); None: scheme and host of each request.
    public_url: str | None = None
    # DOS-2: token bucket per token / API key; rate 0 switches the limit off.
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 100
    # DOS-5 inbound limits.
    max_body_bytes: int = 5 * MB
    max_function_body_bytes: int = 1 * MB
    max_attachment_bytes: int = 20 * MB
    max_header_bytes: int = 16 * 1024
    max_json_depth: int = 64
    # compat §3.8 / §7 strict modes.
    strict_fields_param: bool = False
    strict_pagination: bool = False

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ApiConfig:
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = getattr(settings, name, None) if settings is not None else None
            if value is not None:
                values[name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("public_url"):
            values["public_url"] = str(values["public_url"]).rstrip("/")
        return cls(**values)
