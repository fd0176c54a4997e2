"""Built-in methods and functions of Deluge (deluge-language.md §8, §10), one module per type.

Importing this package registers every built-in in ``registry``.
"""

from . import checks, conversions, crypto, dates, files, lists, maps, numbers, text

__all__ = ["checks", "conversions", "crypto", "dates", "files", "lists", "maps", "numbers", "text"]
