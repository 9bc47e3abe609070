"""The README lists the values the API accepts, as the schemas' enums have them."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from chalicelib.domain import interactions, tickets
from devtools.dynamodb_local import ROOT

_LISTS: dict[str, type[StrEnum]] = {
    "Ticket categories (`category`)": tickets.Category,
    "Ticket channels (`channel`)": tickets.Channel,
    "Ticket priorities (`priority`)": tickets.Priority,
    "Interaction types (`type`)": interactions.InteractionType,
    "Interaction channels (`channel`, also of survey answers and imported interactions)": (
        interactions.Channel
    ),
}


def _listed(label: str) -> list[str]:
    """The values the README names after `label: `, up to the end of the sentence."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    _, found, after = readme.partition(f"{label}: ")
    assert found, f"the README lists no {label}"
    listing = re.split(r"\. | \(", after, maxsplit=1)[0]
    return re.findall(r"`([a-z_]+)`", listing)


@pytest.mark.parametrize("label", list(_LISTS))
def test_the_readme_lists_exactly_the_accepted_values(label: str) -> None:
    assert _listed(label) == [member.value for member in _LISTS[label]]
