"""The edit's keep fraction (StyleSpaceSparse magnitude pruning of each direction) in render_edit and recipes."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY, make_generator
from test_directions_helpers import styledomain_file

from engine.domains.blend import DirectionTerm, build_edit, sparsify
from engine.domains.direction import load_direction
from engine.errors import UserError
from engine.pipeline.edit import Edit, render_edit
from engine.pipeline.recipe import DirectionRef, GeneratorRef, LatentRef, Recipe, RecipeError
from engine.pipeline.seeds import w_plus_from_seed
from engine.stylespace import style_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gen():
    return make_generator()


@pytest.fixture
def term(tmp_path):
    styledomain_file(tmp_path / "d.pt", TINY.channels, seed=4)
    return DirectionTerm(load_direction(tmp_path / "d.pt"), 0.8, "all")


def test_keep_one_is_the_unpruned_render_and_a_lower_keep_prunes_each_direction(gen, term):
    plain = render_edit(gen, 5, Edit((term,)))
    assert torch.equal(render_edit(gen, 5, Edit((term,), keep=1.0)), plain)
    pruned = render_edit(gen, 5, Edit((term,), keep=0.2))
    assert not torch.equal(pruned, plain)
    sparse = sparsify(term.direction, 0.2)[0]
    with torch.no_grad():
        styles = gen.styles(w_plus_from_seed(gen, 5))
        expected = build_edit([DirectionTerm(sparse, 0.8, "all")], style_layout(TINY), 1.0).synthesize(gen, styles)
    assert torch.equal(pruned, expected)
    covered = term.direction.covered_mask()
    kept = int(sparse.values[covered].ne(0).sum())
    assert kept < int(term.direction.values[covered].ne(0).sum()) * 0.25


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_keep_outside_zero_one_is_a_user_error(gen, term, bad):
    with pytest.raises(UserError, match="keep"):
        render_edit(gen, 5, Edit((term,), keep=bad))


def _recipe(**kw) -> Recipe:
    return Recipe(GeneratorRef("tiny", "ab" * 32, "0123456789abcdef"), LatentRef("seed", seed=3),
                  [DirectionRef("d", "cd" * 32, "d.pt", 0.5)], **kw)


def test_recipes_round_trip_keep_and_old_recipes_are_written_as_before():
    old = _recipe()
    assert "keep" not in old.to_dict()  # no pruning: exactly the version-1 document of before
    assert Recipe.loads(old.dumps()).keep == 1.0
    sparse = _recipe(keep=0.35)
    again = Recipe.loads(sparse.dumps())
    assert again.keep == 0.35 and again.dumps() == sparse.dumps()
    d = json.loads(sparse.dumps())
    d["keep"] = 0
    with pytest.raises(RecipeError, match="keep must be a number in"):
        Recipe.from_dict(d, "r.json")
