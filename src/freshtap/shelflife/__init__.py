"""The shelf-life model: how fresh an item is, given how it was kept, and when it runs out.

Pure functions over frozen data with `now` passed in; the only I/O is loading the packaged
FoodKeeper reference table (USDA FSIS, public domain). See docs/shelf-life.md.

    from freshtap.shelflife import ItemFacts, assess
    facts = ItemFacts(name="Whole milk 1 L", category="dairy", added_at=added_at)
    assessment = assess(facts, now, settings.freshness)
"""

from freshtap.shelflife.assessment import Assessment, state_for_hours
from freshtap.shelflife.categories import CATEGORY_WORDS, CategoryRule, category_rule, normalise_category
from freshtap.shelflife.facts import ExpiryKind, ItemFacts, TemperatureSpan
from freshtap.shelflife.label import BEST_BEFORE_GRACE, label_day_end
from freshtap.shelflife.model import FREEZER_COMPARTMENTS, assess, next_transition
from freshtap.shelflife.rate_law import (
    FROZEN_AT_OR_BELOW_C,
    RATE_LAWS,
    REFERENCE_TEMP_C,
    RateLaw,
    rate_law,
    spoilage_rate,
)
from freshtap.shelflife.reference import (
    CategoryLife,
    ReferenceProduct,
    ReferenceTable,
    StorageLife,
    category_life,
    find_product,
    load_reference,
    product_by_id,
    products_in_category,
)
from freshtap.shelflife.runout import RUNOUT_MIN_POINTS, RUNOUT_REFILL_JUMP, forecast_runout

__all__ = [
    "BEST_BEFORE_GRACE",
    "CATEGORY_WORDS",
    "FREEZER_COMPARTMENTS",
    "FROZEN_AT_OR_BELOW_C",
    "RATE_LAWS",
    "REFERENCE_TEMP_C",
    "RUNOUT_MIN_POINTS",
    "RUNOUT_REFILL_JUMP",
    "Assessment",
    "CategoryLife",
    "CategoryRule",
    "ExpiryKind",
    "ItemFacts",
    "RateLaw",
    "ReferenceProduct",
    "ReferenceTable",
    "StorageLife",
    "TemperatureSpan",
    "assess",
    "category_life",
    "category_rule",
    "find_product",
    "forecast_runout",
    "label_day_end",
    "load_reference",
    "next_transition",
    "normalise_category",
    "product_by_id",
    "products_in_category",
    "rate_law",
    "spoilage_rate",
    "state_for_hours",
]
