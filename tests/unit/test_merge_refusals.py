"""The items a merge refuses are checked by key (one GetItem each), so every refusing
entity of the move table must name its key."""

from chalicelib.dal.merge import MOVES, REFUSED_ITEMS, MoveRule


def test_every_entity_a_merge_refuses_is_checked_by_its_key() -> None:
    refused = {entity for entity, move in MOVES.items() if move.rule is MoveRule.REFUSE}

    assert refused == set(REFUSED_ITEMS)
