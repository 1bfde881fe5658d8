"""Output names from a template: ``{stem}_{recipe}.{ext}`` by default.

Fields: ``{stem}`` (input file name without suffix), ``{name}`` (with suffix), ``{suffix}`` (the input's
suffix without the dot), ``{folder}`` (sub-folder of the input inside the folder it was found in, "" for
files named directly), ``{recipe}`` (recipe file stem), ``{model}`` (generator name), ``{index}`` (1-based
position among the inputs), ``{ext}`` (output format: png, jpg, webp). Format specs work as in Python
(``{index:05d}``). A name may contain ``/`` to make sub-folders inside OUT but may not leave OUT. When the
template has no ``{ext}`` and does not end in the format's suffix, ``.{ext}`` is appended.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import UserError

DEFAULT_TEMPLATE = "{stem}_{recipe}.{ext}"
FIELDS = ("stem", "name", "suffix", "folder", "recipe", "model", "index", "ext")
#: Output formats and the suffixes their files get.
FORMAT_SUFFIXES = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}
_SUFFIX_ALIASES = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "webp": (".webp",)}


@dataclass(frozen=True)
class NameTemplate:
    """A validated template (see the module docstring) for one output format."""

    template: str
    fmt: str

    def __post_init__(self) -> None:
        if self.fmt not in FORMAT_SUFFIXES:
            raise UserError(f"unknown format {self.fmt!r} (use {', '.join(FORMAT_SUFFIXES)})")
        if not self.template.strip():
            raise UserError("--name: the template is empty")
        if self.template.startswith(("/", "\\")) or (len(self.template) > 1 and self.template[1] == ":"):
            raise UserError(f"--name {self.template!r}: names are relative to OUT, not absolute paths")
        try:
            parsed = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise UserError(f"--name {self.template!r}: {exc}") from None
        for _, field, _, conversion in parsed:
            if field is None:
                continue
            if field not in FIELDS:
                raise UserError(f"--name {self.template!r}: unknown field {{{field}}} "
                                f"(use {', '.join('{' + f + '}' for f in FIELDS)})")
            if conversion:
                raise UserError(f"--name {self.template!r}: conversions (!{conversion}) are not supported")
        self.render(stem="x", name="x.png", suffix="png", folder="a/b", recipe="r", model="m", index=1)

    @property
    def has_folder_field(self) -> bool:
        return "{folder" in self.template

    def render(self, *, stem: str, name: str, suffix: str, folder: str, recipe: str, model: str,
               index: int) -> PurePosixPath:
        """The output's path relative to OUT; :class:`UserError` if the template cannot make one."""
        try:
            text = self.template.format(stem=stem, name=name, suffix=suffix, folder=folder, recipe=recipe,
                                        model=model, index=index, ext=self.fmt)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise UserError(f"--name {self.template!r}: {exc}") from None
        if "{ext" not in self.template and not text.lower().endswith(_SUFFIX_ALIASES[self.fmt]):
            text += FORMAT_SUFFIXES[self.fmt]
        rel = PurePosixPath(text.replace("\\", "/").lstrip("/"))  # an empty {folder} leaves a leading "/"
        parts = [p for p in rel.parts if p not in ("", ".")]
        if ".." in parts or not parts:
            raise UserError(f"--name {self.template!r}: output name {text!r} must stay inside OUT")
        if parts[-1].startswith("."):
            raise UserError(f"--name {self.template!r}: output name {parts[-1]!r} would be a hidden file")
        return PurePosixPath(*parts)


def recipe_label(recipe_path: str | Path) -> str:
    """``{recipe}``: the recipe file's stem, without a trailing ``.recipe``."""
    stem = Path(recipe_path).stem
    return stem[: -len(".recipe")] if stem.endswith(".recipe") and len(stem) > 7 else stem
