"""Every string on the page comes from the catalog, in both languages, with the same placeholders."""

from __future__ import annotations

import re
from importlib import resources

from freshtap.contract import Compartment, FreshnessState
from freshtap.device.screen import CATALOG, TapStatus

ASSETS = resources.files("freshtap.device.screen.assets")


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_languages_hold_the_same_keys_and_placeholders() -> None:
    en, zh = CATALOG["en"], CATALOG["zh"]
    assert set(en) == set(zh)
    for key in en:
        assert _placeholders(en[key]) == _placeholders(zh[key]), key
        assert en[key].strip() and zh[key].strip(), key
    assert re.search(r"[\u4e00-\u9fff]", zh["offline_body"])


def test_every_key_the_page_uses_is_in_the_catalog() -> None:
    html = ASSETS.joinpath("index.html").read_text(encoding="utf-8")
    script = ASSETS.joinpath("screen.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="(\w+)"', html)) | set(re.findall(r'\bt\("(\w+)"\s*[,)]', script))
    # Keys built from a prefix and a value the snapshot carries.
    used |= {f"state_{s.value}" for s in FreshnessState} | {"state_unknown"}
    used |= {f"compartment_{c.value}" for c in Compartment}
    used |= {f"order_{s}" for s in ("pending", "paid", "declined", "requires_action", "unknown")}
    used |= {f"fail_{f}" for f in ("not_available", "already_bought", "rejected")}
    used |= {f"reason_{k}" for k in ("expiring", "expired", "low_fill", "runout")}
    used |= {s.value for s in (TapStatus.SENDING, TapStatus.RETRYING, TapStatus.CANCELLED)}
    used |= {"decline_card_declined", "decline_other", "source_server", "source_device"}
    assert len(used) > 50
    assert used <= set(CATALOG["en"]), sorted(used - set(CATALOG["en"]))


def test_the_page_loads_nothing_from_elsewhere_and_has_no_inline_code() -> None:
    html = ASSETS.joinpath("index.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script>" not in html and "style=" not in html and " on" + "click=" not in html
    script = ASSETS.joinpath("screen.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "http://" not in script and "https://" not in script
