"""The OData query options the feed accepts: $top, $skip, $count, $skiptoken, $select... (pure)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from collect.domain.odata.schema import SYSTEM_NAMES, Node, Schema
from collect.errors import BadRequest, NotSupported

# System query options a client may reasonably send that this feed does not implement.
_UNSUPPORTED = ("$orderby", "$search", "$apply", "$compute", "$levels", "$index")
# Query options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """The OData system query options of a request, checked."""

    top: int | None = None
    skip: int = 0
    skiptoken: int | None = None  # the Submission.id below which the next page starts
    count: bool = False
    filter: str | None = None
    select: str | None = None
    expand: bool = False
    wkt: bool = False


def parse_query(args: Mapping[str, str]) -> Query:
    """Read $top, $skip, $skiptoken, $count, $filter, $select, $expand and $wkt."""
    for name in _UNSUPPORTED:
        if args.get(name):
            raise NotSupported(
                f"{name} is not supported by this server. Rows come newest first; the options "
                "are $top, $skip, $count, $filter, $select, $expand=* and $wkt."
            )
    output = args.get("$format", "json").lower()
    if output and not output.startswith(("json", "application/json")):
        raise NotSupported(f"$format={output} is not supported: the feed is JSON.")
    expand = args.get("$expand") or None
    if expand is not None and expand != "*":
        raise NotSupported(
            f"The $expand expression '{expand}' is not supported: only $expand=* is, which "
            "expands every repeat."
        )
    return Query(
        top=_whole(args, "$top"),
        skip=_whole(args, "$skip") or 0,
        skiptoken=_skiptoken(args.get("$skiptoken")),
        count=_boolean(args, "$count"),
        filter=args.get("$filter") or None,
        select=args.get("$select") or None,
        expand=expand == "*",
        wkt=_boolean(args, "$wkt"),
    )


def _whole(args: Mapping[str, str], name: str) -> int | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} is a whole number of rows, 0 or more, not '{value}'.")
    return int(value)


def _boolean(args: Mapping[str, str], name: str) -> bool:
    value = args.get(name, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise BadRequest(f"{name} is true or false, not '{args[name]}'.")


def skiptoken(row_id: int) -> str:
    """An opaque $skiptoken: the next page starts below this submission."""
    payload = base64.urlsafe_b64encode(json.dumps({"below": row_id}).encode()).decode()
    return "01" + payload.rstrip("=")


def _skiptoken(token: str | None) -> int | None:
    if not token:
        return None
    try:
        payload = token[2:] + "=" * (-len(token[2:]) % 4)
        below = json.loads(base64.urlsafe_b64decode(payload))["below"]
    except (binascii.Error, ValueError, KeyError, TypeError) as e:
        raise BadRequest(
            "The $skiptoken is not one this server gave: follow @odata.nextLink as it is."
        ) from e
    if not token.startswith("01") or not isinstance(below, int):
        raise BadRequest("The $skiptoken is not one this server gave: follow @odata.nextLink.")
    return below


@dataclass(frozen=True)
class Selection:
    """What $select keeps of a table's rows."""

    paths: frozenset[str] | None = None  # node paths to show; None shows all
    system: frozenset[str] | None = None  # __system properties; None: all, empty: no __system
    parent_key: bool = True


def selection(form_schema: Schema, table: Node, text: str | None) -> Selection:
    """Check $select against a table: `name`, `group/name`, `__id`, `__system[/name]`."""
    if text is None or text.strip() == "*":
        return Selection()
    paths: set[str] = set()
    system: set[str] = set()
    parent_key = False
    prefix = f"{table.odata_path}/" if table.path else ""
    for prop in (p.strip() for p in text.split(",")):
        node = form_schema.by_odata_path.get(prefix + prop)
        if prop == "__id":
            continue
        if table.type == "root" and prop == "__system":
            system |= SYSTEM_NAMES
        elif table.type == "root" and prop.startswith("__system/") and prop[9:] in SYSTEM_NAMES:
            system.add(prop[9:])
        elif table.type == "repeat" and prop == table.parent_key:
            parent_key = True
        elif node is None:
            raise BadRequest(
                f"Could not find a property named '{prop}' in {table.table}. Name questions as "
                "group/question, or __id"
                + (", __system or __system/submissionDate" if table.type == "root" else "")
                + "."
            )
        elif node.container is not table:
            raise BadRequest(
                f"The $select property '{prop}' is inside a repeat: select it on that "
                "repeat's own table instead."
            )
        else:
            paths.update(_subtree(node))
            walk = node.parent
            while walk is not None and walk is not table:
                paths.add(walk.path)
                walk = walk.parent
    return Selection(frozenset(paths), frozenset(system), parent_key)


def _subtree(node: Node) -> Iterator[str]:
    yield node.path
    for child in node.children:
        yield from _subtree(child)
