"""The wire format the workflow's payloads share: camelCase on the wire (like API Gateway's own
JSON), snake_case in Python, unknown fields refused, fields that are None left out.

The payloads are msgspec structs, not pydantic models (the request contract's, which need
pydantic's rules and their messages, are ``contract.requests``' ``WireModel``): a function
that defines a pydantic model pays for pydantic at every cold start, about 95 ms after boto3
and Powertools are loaded, against 4 ms for msgspec (``make bench`` (a); README, "Cold
start"). Only the validate tasks import pydantic; a function that reads a payload (the
validate tasks and the ASL write them) still checks it against its struct (types,
enumerations, nesting, unknown fields). Building a struct in Python checks nothing: mypy does.
"""

import unicodedata
from typing import Any, Self, dataclass_transform

import msgspec


# For type checkers: every subclass is frozen (msgspec's class options are inherited, which a
# checker does not know of a dataclass_transform base) and keyword-only (each subclass says
# ``kw_only=True``: msgspec applies it to the fields of the class that says it).
@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class WireStruct(
    msgspec.Struct, rename="camel", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """camelCase on the wire, snake_case in Python, unknown fields refused (a subclass that
    reads a wider document says ``forbid_unknown_fields=False``)."""

    @classmethod
    def from_wire(cls, document: Any) -> Self:
        """The payload read from its JSON form; ``msgspec.ValidationError`` names the field
        (``$.request.requestId``) and the rule."""
        return msgspec.convert(document, cls)

    def to_wire(self) -> dict[str, Any]:
        """The JSON form, without the fields that are None (as the ASL's ``IsPresent`` reads
        them)."""
        wire = _wire(self)
        assert isinstance(wire, dict)
        return wire


def _wire(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        names = value.__struct_encode_fields__
        return {
            name: _wire(item)
            for name, item in zip(names, msgspec.structs.astuple(value), strict=True)
            if item is not None
        }
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    return msgspec.to_builtins(value)


def printable(text: str) -> str:
    """No control characters: the text reaches AWS APIs and SNS message attributes, which
    refuse them (SNS allows only #x9 | #xA | #xD | #x20-#xD7FF | ... in attribute values)."""
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters (tab, newline, ...)")
    return text
