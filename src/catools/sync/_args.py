"""The library's argument checks (they live in :mod:`catools.arguments`, shared by
``catools.sync`` and ``catools.aio``)."""
from __future__ import annotations

from ..arguments import (FORMATS, MASK_LETTERS, MISSING, READ_GRACE, TypeRule, check_count,
                         check_name, check_names, check_timeout, client_config,
                         converter_for, family_of, mask_bits, needs_labels, put_converter,
                         put_items, shape, type_rule, write_type)

__all__ = ["FORMATS", "MASK_LETTERS", "MISSING", "READ_GRACE", "TypeRule", "check_names", "check_name",
           "check_timeout", "check_count", "family_of", "type_rule", "write_type",
           "mask_bits", "needs_labels", "converter_for", "put_items", "put_converter",
           "shape", "client_config"]
