"""Model cards: the shipped card can be updated in place, and its Markdown follows."""
from __future__ import annotations

import json
import shutil

import pytest

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.count import MODELS_DIR
from atomcount.hrtem.training import ship


@pytest.fixture()
def models(tmp_path, monkeypatch):
    shutil.copy(MODELS_DIR / "fcn_au_300kv.json", tmp_path / "fcn_au_300kv.json")
    monkeypatch.setattr(ship, "MODELS_DIR", tmp_path)
    return tmp_path


def test_update_card_replaces_the_entry_and_rewrites_the_markdown(models):
    before = json.loads((models / "fcn_au_300kv.json").read_text())
    ship.update_card("fcn_au_300kv", wholeframe_markdown="| new whole-frame table |\n")
    after = json.loads((models / "fcn_au_300kv.json").read_text())
    assert after["wholeframe_markdown"] == "| new whole-frame table |\n"
    assert {k: v for k, v in after.items() if k != "wholeframe_markdown"} == \
        {k: v for k, v in before.items() if k != "wholeframe_markdown"}
    md = (models / "fcn_au_300kv.md").read_text()
    assert "| new whole-frame table |" in md and md.startswith("# Model card: fcn_au_300kv")


def test_update_card_of_a_missing_model_is_refused(models):
    with pytest.raises(AtomcountError, match="no model card"):
        ship.update_card("no_such_model", wholeframe_markdown="x")
