"""The gettext catalogs: extract every message with Babel, merge, compile (``make catalogs``).

``python -m campaign_scheduler.catalogs`` does what ``pybabel extract -F babel.cfg``,
``pybabel update`` and ``pybabel compile`` would, with one addition: German wording that was
written into :data:`campaign_scheduler.uilang.GERMAN` (by work that began before the catalogs)
is copied into ``de/campaign.po``. ``--check`` changes nothing and exits 1 when a message lacks
a translation or a ``.mo`` file is stale. The ``.po`` files are the source of truth; the ``.mo``
files are compiled from them and shipped in the package, so ``pip install -e .`` and the wheel
both find them.

Extraction (``babel.cfg``): ``tr``/``trn``/``N_`` calls everywhere, the daemon's log messages
(``log.info("…")`` in ``publishing/``, ``metrics/``, ``alerts.py``), and in the command modules
(``cli/``) also every ``help=`` text and each command function's docstring, paragraph by
paragraph, because Typer takes those at import time; :func:`campaign_scheduler.cli.translate_help`
looks them up when a command is built, after ``--lang`` is known.

This module imports Babel: it is for building and testing, never for running a command.
"""

from __future__ import annotations

import ast
import inspect
import io
import sys
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from campaign_scheduler.uilang import DOMAIN, LOCALE_DIR

PACKAGE_DIR = Path(__file__).parent
MAPPING = PACKAGE_DIR.parent.parent / "babel.cfg"
#: The mapping when the source tree's babel.cfg is not there (an installed wheel).
DEFAULT_MAPPING = """\
[campaign_scheduler.catalogs.extract_cli: cli/**.py]
[campaign_scheduler.catalogs.extract_log: publishing/**.py]
[campaign_scheduler.catalogs.extract_log: metrics/**.py]
[campaign_scheduler.catalogs.extract_log: alerts.py]
[python: **.py]
"""
#: The daemon's human log: ``log.info("published %s: %s", …)`` messages are msgids too (the
#: text formatter of ``campaign run`` looks them up; ``--log-json`` stays English).
LOG_KEYWORDS: dict[str, Any] = {"info": None, "warning": None, "error": None, "exception": None}
KEYWORDS: dict[str, Any] = {"tr": None, "trn": (1, 2), "N_": None, "msg": None}
TRANSLATED = ("de",)
#: Fixed header dates: a run that finds nothing new changes no file.
STAMP = datetime(2026, 12, 7, 0, 0)


def paragraphs(text: str) -> list[str]:
    """A help text as its translatable units: the paragraphs of the cleaned text."""
    return [part for part in inspect.cleandoc(text).split("\n\n") if part.strip()]


def _is_command(node: ast.FunctionDef) -> bool:
    """A public function registered as a command, or with Typer parameters (``ctx:
    typer.Context`` or ``Annotated[…, typer.Option(…)]``): Typer shows its docstring as the
    command's help."""
    if node.name.startswith("_"):
        return False
    if any(".command(" in ast.unparse(decorator) for decorator in node.decorator_list):
        return True  # ``@channels_app.command("list")``, whatever its parameters
    for arg in [*node.args.args, *node.args.kwonlyargs]:
        annotation = ast.unparse(arg.annotation) if arg.annotation else ""
        if "typer." in annotation:
            return True
    return False


def extract_cli(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: dict[str, Any],
) -> Iterator[tuple[int, str | None, str | tuple[str, ...], list[str]]]:
    """Babel extraction method for the command modules: calls, ``help=`` and docstrings."""
    yield from extract_python(fileobj, keywords, comment_tags, options)  # type: ignore[arg-type,misc]
    fileobj.seek(0)
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        texts: list[str] = []
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                    texts.append(str(keyword.value.value))
            name = ast.unparse(node.func)
            if name == "LazyCommand" and len(node.args) == 3:
                summary = node.args[2]
                if isinstance(summary, ast.Constant | ast.JoinedStr):
                    texts.append(str(ast.literal_eval(summary)))
        elif isinstance(node, ast.FunctionDef) and _is_command(node):
            texts.append(ast.get_docstring(node) or "")
        line = getattr(node, "lineno", 0)
        for text in texts:
            for part in paragraphs(text):
                yield line, None, part, []


def extract_log(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: dict[str, Any],
) -> Iterator[tuple[int, str | None, str | tuple[str, ...], list[str]]]:
    """Babel extraction method for the daemon's modules: calls and log messages."""
    words = {**dict.fromkeys(keywords), **LOG_KEYWORDS}
    results: Iterator[Any] = extract_python(fileobj, words, comment_tags, options)  # type: ignore[arg-type]
    for line, funcname, messages, comments in results:
        yield line, None if funcname in LOG_KEYWORDS else funcname, messages, comments


def extract(source: Path = PACKAGE_DIR) -> Catalog:
    """Every message of the package, as a template catalog."""
    mapping = MAPPING.read_text("utf-8") if MAPPING.is_file() else DEFAULT_MAPPING
    method_map, options_map = parse_mapping_cfg(io.StringIO(mapping))  # type: ignore[no-untyped-call]
    template = Catalog(project="campaign-scheduler", creation_date=STAMP, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        source, method_map, options_map, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.is_file():
        return Catalog(locale=lang, domain=DOMAIN, project="campaign-scheduler", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def untranslated(template: Catalog, catalog: Catalog) -> list[str]:
    """The msgids of ``template`` that ``catalog`` does not translate (missing, empty, fuzzy)."""
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        strings: tuple[str, ...] = ()
        if found is not None:
            value = found.string
            strings = (value,) if isinstance(value, str) else tuple(value or ())
        if found is None or found.fuzzy or not strings or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update() -> dict[str, list[str]]:
    """Extract, merge into each ``.po`` (German of ``uilang.GERMAN`` filled in), compile.
    Returns the untranslated msgids of each language."""
    from campaign_scheduler.uilang import GERMAN

    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, no_location=True)
    result = {}
    for lang in TRANSLATED:
        catalog = read(lang)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        if lang == "de":
            for msgid, german in GERMAN.items():
                message = catalog.get(msgid)
                if message is not None and not message.string:
                    message.string = german
        catalog.revision_date = STAMP
        catalog.creation_date = STAMP
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, no_location=True, width=100)
        path.with_suffix(".mo").write_bytes(compiled(read(lang)))
        result[lang] = untranslated(template, catalog)
    return result


def check() -> list[str]:
    """What is wrong with the shipped catalogs, as lines; empty when all is well."""
    template = extract()
    problems = []
    for lang in TRANSLATED:
        catalog = read(lang)
        for msgid in untranslated(template, catalog):
            problems.append(f"{po_path(lang)}: no translation of {msgid!r}")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.is_file() or mo.read_bytes() != compiled(catalog):
            problems.append(f"{mo} is stale: run 'make catalogs'")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)  # noqa: T201
        return 1 if problems else 0
    for lang, missing in update().items():
        for msgid in missing:
            print(f"{lang}: untranslated: {msgid!r}", file=sys.stderr)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
