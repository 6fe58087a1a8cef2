"""The refusals of the domain: one hierarchy, a stable and unique code each, an English message whose
placeholders are the error's parameters, and that message in every language a person reads it in.

A language the terminal speaks joins ``LANGUAGES`` below once its catalog (``web/translations/<lang>.po``)
holds the error messages; the test then holds it to every code.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import shopfloor
from shopfloor import errors
from shopfloor.errors import DomainError, placeholders
from shopfloor.i18n import error_catalog, error_message

LANGUAGES = ("ko", "en", "vi")
SRC = Path(shopfloor.__file__).parent


def _import_everything() -> None:
    for module in pkgutil.walk_packages(shopfloor.__path__, "shopfloor."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)


_import_everything()
CODES = {cls.code: cls for cls in errors.all_errors()}


def test_every_code_is_unique_and_names_its_kind():
    classes = errors.all_errors()
    assert len(CODES) == len(classes), "two errors share a code"
    for cls in classes:
        assert "." in cls.code and cls.code == cls.code.lower(), cls
        assert any(issubclass(cls, kind) for kind in KINDS), f"{cls.__name__} is of no kind"


KINDS = (
    errors.Invalid,
    errors.Unreadable,
    errors.NotFound,
    errors.Conflict,
    errors.Forbidden,
    errors.NotSignedIn,
    errors.TooManyAttempts,
    errors.TooLarge,
    errors.UnsupportedMedia,
    errors.Unavailable,
    errors.Fault,
)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_code_has_its_message_in_each_language(lang):
    catalog = error_catalog(lang)
    missing = sorted(code for code in CODES if code not in catalog)
    stale = sorted(code for code, cls in CODES.items() if code in catalog and catalog[code][0] != cls.message)
    changed = sorted(
        code
        for code, cls in CODES.items()
        if code in catalog and placeholders(catalog[code][1]) != placeholders(cls.message)
    )
    unknown = sorted(set(catalog) - set(CODES))
    assert (missing, stale, changed, unknown) == ([], [], [], []), (
        f"{lang}: without a translation {missing}; translated from an older English message {stale}; "
        f"with other placeholders than the English message {changed}; codes that no longer exist {unknown}"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_message_fills_in_with_its_parameters(lang):
    for code, cls in CODES.items():
        params = {name: f"<{name}>" for name in placeholders(cls.message)}
        error = cls.__new__(cls)
        DomainError.__init__(error, **params)
        error.problems = []  # several problems: the summary alone here
        error.error = errors.ValueRequired()  # a problem of a line: the error found there
        shown = error_message(error, lang)
        own_translation = cls.translated is not DomainError.translated  # fills a parameter in itself
        assert own_translation or all(value in shown for value in params.values()), (lang, code, shown)
        if lang == "en" and not own_translation:
            assert shown == str(error)


def test_a_message_in_korean_and_vietnamese_and_the_english_one_when_asked():
    refusal = errors.WorkOrderNotFound(work_order="WO-7")
    assert error_message(refusal, "en") == "no work order WO-7"
    assert error_message(refusal, "ko") == "작업지시 WO-7이(가) 없습니다"
    assert error_message(refusal, "vi") == "Không có lệnh sản xuất WO-7"
    assert refusal.to_dict() == {"code": "work_order.not_found", "params": {"work_order": "WO-7"},
                                 "message": "no work order WO-7"}  # fmt: skip


def test_an_error_needs_every_parameter_its_message_names():
    with pytest.raises(TypeError, match="work_order"):
        errors.WorkOrderNotFound()


# Exceptions raised in this package that are not refusals a person meets: faults of the program itself, or
# signals between two of its parts that the receiving part turns into a refusal.
INTERNAL = {
    "ChangeNotAudited",  # an action that forgot its audit row: a fault of the action
    "LoginRequired",  # a page asked for without a session: answered with the sign-in page
    "Exit",  # typer's way to end a command
    "SignatureError",  # model.signing: the hub turns it into SignatureRefused
    "TypeError",  # a DomainError raised without a parameter its message needs: a fault of the caller
    "InputError",  # cli.spc, the SPC command's own (another area)
}
LAYERS = ("actions", "api", "web", "cli", "store", "app.py", "settings.py", "i18n.py", "live.py")
# A ValueError that guards against a fault of the program, never met by a person's request.
GUARDS = {
    "store/schema.py",  # a naive datetime handed to the store
    "store/trace.py",  # a trace direction other than the two that the API and the command offer
}
NOT_OURS = {"store/kpi.py", "store/rollups.py", "cli/spc.py"}


def test_people_meet_only_typed_refusals():
    """In the layers a person's request passes through, everything raised is a DomainError (or one of the few
    internal signals above): no ValueError or bare message reaches a page, the API or a command."""
    known = {cls.__name__ for cls in _all_subclasses(DomainError)}
    untyped = []
    for path in sorted(SRC.rglob("*.py")):
        relative = str(path.relative_to(SRC))
        if not relative.startswith(LAYERS) or relative in NOT_OURS | GUARDS or "migrations" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                name = _raised_name(node.exc)
                if name is not None and name not in known and name not in INTERNAL and name != "ValueError":
                    untyped.append(f"{relative}:{node.lineno} {name}")
                elif name == "ValueError" and not _reraised_in_try(path, node):
                    untyped.append(f"{relative}:{node.lineno} ValueError")
    assert untyped == []


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def _raised_name(exc: ast.expr) -> str | None:
    """The class raised (``raise X(...)``, ``raise X``); None for a variable raised again (``raise exc``)."""
    target = exc.func if isinstance(exc, ast.Call) else exc
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else None
    return name if name and name[0].isupper() else None


def _reraised_in_try(path: Path, node: ast.Raise) -> bool:
    """A bare ``raise ValueError`` caught by the ``try`` around it (a parse that falls to one except clause)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for parent in ast.walk(tree):
        if isinstance(parent, ast.Try) and any(n is node or _same(n, node) for b in parent.body for n in ast.walk(b)):
            return any(isinstance(h.type, ast.Name) and h.type.id == "ValueError" for h in parent.handlers if h.type)
    return False


def _same(a: ast.AST, b: ast.AST) -> bool:
    return getattr(a, "lineno", None) == getattr(b, "lineno", None) and type(a) is type(b)
