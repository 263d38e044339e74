"""An item's state and slot counters: every write to them outside the claim goes through here.

The life of an item (docs/architecture.md draws it):

    open -> consensus              all wanted labels are in (pipeline.submit)
    consensus -> promoted          consensus agreed (pipeline.consensus)
    consensus -> open              more labels wanted, or a counted answer was rejected
    consensus -> escalated         agreement stayed low at the most labels allowed
    escalated -> promoted|rejected an expert decided (pipeline.expert_review)

Each function is one conditional UPDATE run inside the caller's transaction: it moves the item
only from the states it names and says whether it did, so a repeated or concurrent call changes
nothing twice. Slot counters move with F() expressions in the transaction that moves the
assignment rows they count. Taking a slot is the claim's (workflows/pipeline/claims.py and its
one-statement SQL path); funding a slot is the budget's (crowd/pay/funding.py).
"""

from collections import Counter

from django.db.models import F

from .models import Item, ItemState

AWAITING_CONSENSUS = (ItemState.OPEN, ItemState.CONSENSUS)


def item_lock(item_id: int, *, related: tuple[str, ...] = ()) -> Item | None:
    """The item, its row locked (NO KEY: answers referencing it may still be written)."""
    return (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*related)
        .filter(pk=item_id)
        .first()
    )


def item_move(item_id: int, *, to: ItemState, from_: tuple[ItemState, ...] = ()) -> bool:
    """Move the item to ``to`` if it is in one of ``from_`` (any state when empty)."""
    items = Item.objects.filter(pk=item_id)
    if from_:
        items = items.filter(state__in=from_)
    return items.update(state=to) == 1


def item_label_add(item: Item, *, max_labels: int) -> bool:
    """Ask for one more label (up to ``max_labels``): the item becomes claimable again."""
    return (
        Item.objects.filter(pk=item.pk, labels_wanted__lt=max_labels).update(
            labels_wanted=F("labels_wanted") + 1, state=ItemState.OPEN
        )
        == 1
    )


def item_slots_release(item_ids: list[int]) -> None:
    """Give back (and unfund: the caller releases its reward) one slot per listed item (an id
    may repeat). Gold items hold no slots.

    Precondition: inside the transaction that moved those assignments out of LEASED.
    """
    for item_id, n in sorted(Counter(item_ids).items()):  # a fixed lock order avoids deadlocks
        Item.objects.filter(pk=item_id, is_gold=False).update(
            slots_taken=F("slots_taken") - n, slots_funded=F("slots_funded") - n
        )


def item_slot_reopen(item: Item) -> None:
    """A rejected answer no longer fills its slot; an item waiting for consensus takes another
    label. A promoted (or escalated, rejected) item keeps its state and golden label."""
    if item.is_gold:
        return
    Item.objects.filter(pk=item.pk, slots_taken__gt=0).update(
        slots_taken=F("slots_taken") - 1, slots_funded=F("slots_funded") - 1
    )
    item_move(item.pk, to=ItemState.OPEN, from_=(ItemState.CONSENSUS,))
