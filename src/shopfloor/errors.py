"""The refusals of the domain, in one hierarchy.

Every error a person or a machine can meet is a subclass of :class:`DomainError` with

- a stable ``code`` (``work_order.transition_not_allowed``): what a client tests and a translator looks up;
- an English ``message`` with ``{name}`` placeholders, filled from the error's parameters;
- its parameters (``params``), given as keyword arguments when it is raised.

The kind of refusal is the base class: :class:`NotFound`, :class:`Conflict`, :class:`Invalid`, :class:`Forbidden`,
... ``api/errors.py`` maps each kind to its HTTP status, in one place.  Pages, the terminal and the API show the
message in the reader's language: each code has its translation in ``web/translations/<lang>.po`` under
``msgctxt "<code>"`` (``tests/test_errors.py`` fails on a code without one, or with a stale one).

To add an error: subclass the right kind here, in the section of its subject, with ``code`` and ``message``;
raise it with its parameters (``raise WorkOrderNotFound(work_order=code)``); add its Korean and Vietnamese
messages to the catalogs.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol

_FORMATTER = string.Formatter()
Translation = Callable[[str, str], str | None]


def placeholders(template: str) -> set[str]:
    """The parameter names a message template uses."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in _FORMATTER.parse(template) if name}


def shown(value: Any) -> Any:
    """A parameter as a message shows it: a list as its items separated by commas."""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return value


def fill(template: str, params: dict[str, Any]) -> str:
    return template.format(**{k: shown(v) for k, v in params.items()})


class DomainError(Exception):
    """A request the domain refuses: a stable ``code``, the ``params`` its message needs, an English ``message``."""

    code: ClassVar[str] = "error"
    message: ClassVar[str] = "the request was refused"

    def __init__(self, **params: Any) -> None:
        missing = placeholders(self.message) - set(params)
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(sorted(missing))}")
        self.params = params
        super().__init__(fill(self.message, params))

    def translated(self, translation: Translation) -> str:
        """The message in a language: ``translation(code, english)`` gives its template there, or None where the
        language has none for this English message (the English one is shown then)."""
        return fill(translation(self.code, self.message) or self.message, self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params, "message": str(self)}

    def __eq__(self, other: object) -> bool:
        # Two refusals are the same when they say the same thing: of one class, with the same parameters.
        return type(other) is type(self) and other.params == self.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), str(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Invalid(DomainError):
    """The request itself is wrong: a bad value, a missing field, an unknown reference."""


class Unreadable(DomainError):
    """The request's body cannot be read at all (not the format it claims to be)."""


class NotFound(DomainError):
    """The thing named does not exist (or the asker may not know that it does)."""


class Conflict(DomainError):
    """The request is valid but the present state does not allow it (a status, a stock, a duplicate)."""


class Forbidden(DomainError):
    """The asker may not do this."""


class NotSignedIn(DomainError):
    """Nobody known is asking."""


class TooManyAttempts(DomainError):
    """The asker must wait before trying again."""


class TooLarge(DomainError):
    """The request is larger than accepted."""


class UnsupportedMedia(DomainError):
    """The request's content type is not one that is read."""


class Unavailable(DomainError):
    """Something the request needs is not there yet (a setting, an installed library)."""


class Problem(Protocol):
    """One of several problems: a ``DomainError``, or a problem with its place in a file (a sheet and cell)."""

    def translated(self, translation: Translation) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class Problems(Invalid):
    """Several problems found together (a form, a file); nothing was changed.  ``problems`` lists each of them,
    every one with its own code and parameters; the message shows them all."""

    code = "request.problems"
    message = "{count} problem(s), nothing was changed"
    MAX_LISTED = 50  # in the text; ``problems`` has them all

    def __init__(self, problems: Sequence[Problem], **params: Any) -> None:
        self.problems = list(problems)
        super().__init__(count=len(self.problems), **params)

    def __str__(self) -> str:
        shown = [f"  - {p}" for p in self.problems[: self.MAX_LISTED]]
        if len(self.problems) > self.MAX_LISTED:
            shown.append(f"  ... and {len(self.problems) - self.MAX_LISTED} more")
        summary = fill(self.message, self.params)
        return "\n".join([summary + ":", *shown]) if shown else summary

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "problems": [p.to_dict() for p in self.problems]}


def refuse(problems: Iterable[DomainError]) -> None:
    """Raise the one problem found, or all of them together as :class:`Problems`; nothing when there is none."""
    found = list(problems)
    if len(found) == 1:
        raise found[0]
    if found:
        raise Problems(found)


def from_dict(doc: dict[str, Any]) -> DomainError:
    """An error again from its ``to_dict`` (as kept in the store), to show it in a language."""
    cls = next((c for c in all_errors() if c.code == doc.get("code")), None)
    if cls is None or issubclass(cls, Problems):
        cls = JobFailed
        doc = {"params": {"reason": doc.get("message", "")}}
    error = cls.__new__(cls)
    DomainError.__init__(error, **doc.get("params", {}))
    return error


def all_errors() -> list[type[DomainError]]:
    """Every error class with its own code (the kinds themselves excluded), for the catalogs' test."""
    out, todo = [], list(DomainError.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            out.append(cls)
    return sorted(out, key=lambda c: c.code)


# == the request ===============================================================================================
class RequestInvalid(Problems):
    """A request that does not match the API's schema; ``problems`` names each field (see ``FieldError``)."""

    code = "request.invalid"
    message = "the request does not match the schema"


class FieldError(Invalid):
    """One field of a request that does not match the schema.  ``field`` is its place, e.g. ``body.quantity``;
    each kind of mismatch has its own code (``request.field.<kind>``)."""


class FieldMissing(FieldError):
    code = "request.field.missing"
    message = "{field}: a value is required"


class FieldTooShort(FieldError):
    code = "request.field.too_short"
    message = "{field}: at least {min_length} character(s) or item(s)"


class FieldTooLong(FieldError):
    code = "request.field.too_long"
    message = "{field}: at most {max_length} character(s) or item(s)"


class FieldPattern(FieldError):
    code = "request.field.pattern"
    message = "{field}: the value does not have the expected form ({pattern})"


class FieldTooSmall(FieldError):
    code = "request.field.too_small"
    message = "{field}: must be at least {limit}"


class FieldNotAbove(FieldError):
    code = "request.field.not_above"
    message = "{field}: must be greater than {limit}"


class FieldTooLarge(FieldError):
    code = "request.field.too_large"
    message = "{field}: must be at most {limit}"


class FieldNotBelow(FieldError):
    code = "request.field.not_below"
    message = "{field}: must be less than {limit}"


class FieldChoice(FieldError):
    code = "request.field.choice"
    message = "{field}: must be one of {expected}"


class FieldNotNumber(FieldError):
    code = "request.field.not_number"
    message = "{field}: not a number"


class FieldNotWholeNumber(FieldError):
    code = "request.field.not_whole_number"
    message = "{field}: not a whole number"


class FieldNotBoolean(FieldError):
    code = "request.field.not_boolean"
    message = "{field}: not true or false"


class FieldNotText(FieldError):
    code = "request.field.not_text"
    message = "{field}: not text"


class FieldNotList(FieldError):
    code = "request.field.not_list"
    message = "{field}: not a list"


class FieldNotObject(FieldError):
    code = "request.field.not_object"
    message = "{field}: not an object"


class FieldNotDateTime(FieldError):
    code = "request.field.not_datetime"
    message = "{field}: not a date and time (ISO 8601, e.g. 2026-03-02T08:15:00+09:00)"


class FieldNotDate(FieldError):
    code = "request.field.not_date"
    message = "{field}: not a date (YYYY-MM-DD)"


class FieldNoTimeZone(FieldError):
    code = "request.field.no_time_zone"
    message = "{field}: give the time with its UTC offset (e.g. +09:00)"


class FieldTooManyDecimals(FieldError):
    code = "request.field.too_many_decimals"
    message = "{field}: at most {decimal_places} decimal(s)"


class FieldNotFinite(FieldError):
    code = "request.field.not_finite"
    message = "{field}: must be a finite number"


class FieldNotJson(FieldError):
    code = "request.field.not_json"
    message = "{field}: not valid JSON"


class FieldUnknown(FieldError):
    code = "request.field.unknown"
    message = "{field}: not expected here"


class FieldOther(FieldError):
    """A mismatch without a code of its own; ``reason`` is the validator's English text."""

    code = "request.field.other"
    message = "{field}: {reason}"


class OutOfRange(Invalid):
    code = "request.out_of_range"
    message = "a number in the request is out of range"


class PayloadTooLarge(TooLarge):
    code = "request.too_large"
    message = "the request is larger than {limit}"


class MediaTypeUnsupported(UnsupportedMedia):
    code = "request.media_type"
    message = "send {expected}"


class NotReadable(Unreadable):
    code = "request.not_readable"
    message = "the body is not {expected}: {reason}"


class NotFoundHere(NotFound):
    """A path that is not a page or resource of this server."""

    code = "request.not_found"
    message = "nothing at {path}"


class MethodNotAllowed(Invalid):
    code = "request.method_not_allowed"
    message = "{method} is not allowed here"


# == who is asking =============================================================================================
class SignInRequired(NotSignedIn):
    code = "auth.sign_in_required"
    message = "sign in, or send an API token as 'Authorization: Bearer ...'"


class TokenUnknown(NotSignedIn):
    code = "auth.token_unknown"
    message = "the API token is unknown or revoked"


class WrongSecret(NotSignedIn):
    code = "auth.wrong_secret"
    message = "wrong name or secret"


class SignInThrottled(TooManyAttempts):
    code = "auth.throttled"
    message = "too many failed sign-ins; try again in {seconds} s"


class CsrfTokenWrong(Forbidden):
    code = "auth.csrf"
    message = "missing or wrong CSRF token (send the X-CSRF-Token header)"


class CrossSiteSignIn(Forbidden):
    code = "auth.cross_site"
    message = "cross-site sign-in refused"


class RoleForbidden(Forbidden):
    """``doing`` names the permission (``acknowledge_alarms``) or what was asked (``hold lots``)."""

    code = "auth.role_forbidden"
    message = "role {role} may not {doing}"


class HubOnly(Forbidden):
    code = "auth.hub_only"
    message = "the hub is for the program office, sponsors and member factories"


# == accounts ==================================================================================================
class UserNotFound(NotFound):
    code = "user.not_found"
    message = "no user {user}"


class UserExists(Conflict):
    code = "user.exists"
    message = "user {user} exists already"


class BadgeTaken(Conflict):
    code = "user.badge_taken"
    message = "badge {badge} belongs to another user"


class CannotDeactivateSelf(Conflict):
    code = "user.cannot_deactivate_self"
    message = "{user} cannot deactivate their own account; another administrator can"


class RoleUnknown(Invalid):
    code = "user.role_unknown"
    message = "role {role} must be one of {roles}"


class LanguageUnknown(Invalid):
    code = "user.language_unknown"
    message = "language {language} must be one of {languages}"


class UsernameInvalid(Invalid):
    code = "user.username_invalid"
    message = "a username of 1 to 64 characters is required"


class SecretMissing(Invalid):
    code = "user.secret_missing"
    message = "give a password, or a PIN for an operator"


class PasswordTooShort(Invalid):
    code = "user.password_too_short"
    message = "a password needs at least {min_length} characters"


class PinInvalid(Invalid):
    code = "user.pin_invalid"
    message = "a PIN is 4 to 8 digits"


class PinOnlyForOperators(Invalid):
    code = "user.pin_only_for_operators"
    message = "only operators may sign in with a PIN alone"


class OrganisationRequired(Invalid):
    code = "user.organisation_required"
    message = "a {role} user belongs to an organisation: give it"


class OrganisationRoleMismatch(Invalid):
    code = "user.organisation_role"
    message = "a user of {organisation} ({kind}) has the role {kind}, not {role}"


class TokenNotFound(NotFound):
    code = "token.not_found"
    message = "no active token {token}"


# == the plant =================================================================================================
class PlantNotImported(NotFound):
    code = "plant.not_imported"
    message = "no plant in this store: import one first (shopfloor import plant FILE.yaml)"


class SiteNotFound(NotFound):
    code = "plant.site_not_found"
    message = "no site {site} in this store"


class SeveralSites(Conflict):
    code = "plant.several_sites"
    message = "this store holds several sites ({sites}): name one"


class MachineCodesTaken(Conflict):
    code = "plant.machine_codes_taken"
    message = "machine codes already used by another site in this store: {machines}"


class PlantFileRefused(Problems):
    """A plant document with problems, each named by its place in the document."""

    code = "plant.file_refused"
    message = "the plant file was refused ({count} problem(s)), nothing was saved"


class PlantFileProblem(Invalid):
    """One problem of a plant document: ``where`` is its path (``areas[0].lines[1].code``); ``problem`` says what
    is wrong, in English."""

    code = "plant.file_problem"
    message = "{where}: {problem}"


class FileNotText(Unreadable):
    code = "file.not_utf8"
    message = "{file}: not UTF-8 text"


class FileNotYaml(Unreadable):
    code = "file.not_yaml"
    message = "{file}: not valid YAML ({reason})"


class FileTooLarge(TooLarge):
    code = "file.too_large"
    message = "{file}: larger than {limit_mib} MiB; split the file"


class MachineNotFound(NotFound):
    code = "plant.machine_not_found"
    message = "no machine {machine}"


class MachineUnknown(Invalid):
    code = "plant.machine_unknown"
    message = "unknown machine {machine}"


class LineUnknown(Invalid):
    code = "plant.line_unknown"
    message = "unknown line {line}; known: {lines}"


class ProductUnknown(Invalid):
    code = "plant.product_unknown"
    message = "unknown product {product}: neither a product of the plant nor an item of the master data"


class ScopeNotChosen(Invalid):
    code = "kpi.scope_not_chosen"
    message = "choose exactly one of a machine, a line or the site"


class WindowReversed(Invalid):
    code = "kpi.window_reversed"
    message = "the end ({end}) must be after the start ({start})"


class WindowTooLong(Invalid):
    code = "kpi.window_too_long"
    message = "a window is limited to {days} days (ten years)"


class HoursTooLong(Invalid):
    code = "kpi.hours_too_long"
    message = "hourly buckets are limited to {days} days; use by=day"


class ShiftsTooLong(Invalid):
    code = "kpi.shifts_too_long"
    message = "shift buckets are limited to {days} days; use by=day"


class BucketUnknown(Invalid):
    code = "kpi.bucket_unknown"
    message = "buckets are by hour, shift or day, not {by}"


class InstantInvalid(Invalid):
    code = "kpi.instant_invalid"
    message = "{option} {value} is not a date (YYYY-MM-DD) or an ISO 8601 date-time"


# -- the guided set-up and the plant pages ---------------------------------------------------------------------
class SetupDone(Conflict):
    code = "setup.done"
    message = "the plant {site} is set up already: change it on the plant pages"


class SetupNeedsAdmin(Invalid):
    code = "setup.admin_required"
    message = "the store has no user yet: name the first administrator and give a password"


class PasswordsDiffer(Invalid):
    code = "setup.passwords_differ"
    message = "the two passwords differ"


class PlantEntityUnknown(NotFound):
    code = "plant.entity_unknown"
    message = "no {kind} {code} in the plant"


class PlantEntityExists(Conflict):
    code = "plant.entity_exists"
    message = "{kind} {code} exists already"


class PlantEntityInUse(Conflict):
    code = "plant.entity_in_use"
    message = "{kind} {code} still holds {holds}: remove or move them first"


# == machine events ============================================================================================
class EventsRefused(Problems):
    code = "events.refused"
    message = "events refused ({count} problem(s)), nothing recorded"


class EventMachineUnknown(Invalid):
    code = "events.machine_unknown"
    message = "{where}.machine: unknown machine {machine}"


class EventInFuture(Invalid):
    code = "events.in_future"
    message = "{where}.ts: {ts} is in the future"


class EventStateMissing(Invalid):
    code = "events.state_missing"
    message = "{where}.state: required for event=state"


class EventQuantityMissing(Invalid):
    code = "events.quantity_missing"
    message = "{where}.quantity: required for a count"


class EventProductUnknown(Invalid):
    code = "events.product_unknown"
    message = "{where}.product: unknown product {product}"


class EventsFileRefused(Problems):
    """A CSV file of machine events with bad rows; each problem names its line."""

    code = "events.file_refused"
    message = "file refused, nothing imported: {count} problem(s) in {rows} row(s)"


class EventsFileProblem(Invalid):
    """One problem of a CSV file of machine events, as the reader of the file states it (in English)."""

    code = "events.file_problem"
    message = "{problem}"


# == work orders ===============================================================================================
class WorkOrderNotFound(NotFound):
    code = "work_order.not_found"
    message = "no work order {work_order}"


class WorkOrderExists(Conflict):
    code = "work_order.exists"
    message = "work order {work_order} exists already"


class WorkOrderQuantity(Invalid):
    code = "work_order.quantity"
    message = "quantity must be at least 1, not {quantity}"


class TransitionNotAllowed(Conflict):
    """``allowed`` lists the statuses the order can go to now (empty when its status is final)."""

    code = "work_order.transition_not_allowed"
    message = "work order {work_order} is {status}: it can go to {allowed}, not {target}"


class WorkOrderFinal(Conflict):
    code = "work_order.final"
    message = "work order {work_order} is {status}: it can go to nothing (final), not {target}"


class WorkOrderNeedsMachine(Invalid):
    code = "work_order.needs_machine"
    message = "work order {work_order} has no machine: name the machine it starts on"


class MachineBusy(Conflict):
    code = "work_order.machine_busy"
    message = "{running} is in progress on {machine}: complete or cancel it first"


class WorkOrderStarted(Conflict):
    code = "work_order.started"
    message = "work order {work_order} is {status}: only planned or released orders are reassigned"


class NothingToAssign(Invalid):
    code = "work_order.nothing_to_assign"
    message = "nothing to change: give a machine, operator, priority or due date"


class NothingToEdit(Invalid):
    code = "work_order.nothing_to_edit"
    message = "nothing to change: give a product, quantity, due date, priority, machine or operator"


class WorkOrderNotEditable(Conflict):
    code = "work_order.not_editable"
    message = "work order {work_order} is {status}: completed, closed and cancelled orders are not changed"


class WorkOrderProductFixed(Conflict):
    code = "work_order.product_fixed"
    message = "work order {work_order} is {status}: its product changes only while it is planned or released"


class WorkOrderQuantityBelowGood(Conflict):
    code = "work_order.quantity_below_good"
    message = "quantity {quantity} is below the {good} good units already reported for work order {work_order}"


class WorkOrderPriority(Invalid):
    code = "work_order.priority"
    message = "priority must be between -1000 and 1000, not {priority}"


class WorkOrderDueImplausible(Invalid):
    code = "work_order.due_implausible"
    message = "due date {due} is not plausible (between 1970 and 2999)"


class OperatorUnknown(Invalid):
    code = "work_order.operator_unknown"
    message = "unknown user {operator}"


class WorkOrdersRefused(Problems):
    """A file of work orders with problems, each with its row and column; no order was created."""

    code = "work_order.import_refused"
    message = "the file of work orders was refused ({count} problem(s)), no order was created"


class OrderFileUnreadable(Unreadable):
    code = "work_order.file_unreadable"
    message = "{file}: not an Excel workbook (.xlsx) or a CSV file ({reason})"


class OrderDateInvalid(Invalid):
    code = "work_order.date_invalid"
    message = "{value} is not a date (2026-12-10, 2026.12.10, 12/10/2026 or 20261210)"


class OrderFileEmpty(Invalid):
    code = "work_order.file_empty"
    message = "{file}: no order in the file"


# == the operator terminal =====================================================================================
class TerminalClockAhead(Invalid):
    code = "terminal.clock_ahead"
    message = "the terminal's clock is ahead of the server's: set the tablet's time"


class TerminalEntryTooOld(Invalid):
    code = "terminal.entry_too_old"
    message = "the entry is more than {days} days old: ask a supervisor to enter it"


class TerminalQuantity(Invalid):
    code = "terminal.quantity"
    message = "enter a quantity of at least 1"


class TerminalDefectMissing(Invalid):
    code = "terminal.defect_missing"
    message = "choose a defect code for scrap"


class DefectUnknown(Invalid):
    code = "terminal.defect_unknown"
    message = "unknown defect code {defect}"


class ReasonMissing(Invalid):
    code = "terminal.reason_missing"
    message = "choose a reason"


class DowntimeReasonUnknown(Invalid):
    code = "terminal.reason_unknown"
    message = "unknown downtime reason {reason}"


class MachineNotStopped(Conflict):
    code = "terminal.machine_not_stopped"
    message = "the machine is not stopped: there is no stop to explain"


class TerminalActionUnknown(Invalid):
    code = "terminal.action_unknown"
    message = "unknown action {action}"


# -- the operator terminal: counts checked against the ideal cycle time; sign-in and sign-out by badge ----------
class CountImplausible(Conflict):
    code = "terminal.count_implausible"
    message = (
        "{quantity} more units in the {minutes} min counted so far is more than the ideal cycle time of {cycle} s "
        "allows (at most {allowed} besides the units counted already): confirm the count and have a supervisor "
        "approve it"
    )


class CountApprovalRequired(Forbidden):
    code = "terminal.count_approval"
    message = "this count needs the approval of a supervisor other than the operator: their badge and PIN"


class AttendanceBadgeUnknown(NotFound):
    code = "attendance.badge_unknown"
    message = "no active user has the badge {badge}"


class AlreadySignedIn(Conflict):
    code = "attendance.already_signed_in"
    message = "{who} is signed in at {machine} already: sign out there first"


class NotSignedInAnywhere(Conflict):
    code = "attendance.not_signed_in"
    message = "{who} is not signed in"


# == lots ======================================================================================================
class LotNotFound(NotFound):
    code = "lot.not_found"
    message = "no lot {lot}"


class LotExists(Conflict):
    code = "lot.exists"
    message = "lot {lot} exists already"


class LotActionNotAllowed(Conflict):
    """``can`` lists what the lot can still do (empty when its status is final)."""

    code = "lot.action_not_allowed"
    message = "lot {lot} is {status}: cannot {action} (it can: {can})"


class LotFinal(Conflict):
    code = "lot.final"
    message = "lot {lot} is {status}: cannot {action} (it is final)"


class LotShort(Conflict):
    code = "lot.short"
    message = "lot {lot} has {qty} {unit}: cannot take {wanted}"


class LotSplitTooMuch(Conflict):
    code = "lot.split_too_much"
    message = "lot {lot} has {qty} {unit}: cannot split off {wanted}"


class RequestKeyReused(Conflict):
    code = "request.key_reused"
    message = "request key {key} was already used for a {used_for}, not a {action}"


class QuantityNotNumber(Invalid):
    code = "quantity.not_number"
    message = "{what} {value} is not a number"


class QuantityNotFinite(Invalid):
    code = "quantity.not_finite"
    message = "{what} must be a finite number, not {value}"


class QuantityDecimals(Invalid):
    code = "quantity.decimals"
    message = "{what} {value} has more than three decimals"


class QuantityTooLarge(Invalid):
    code = "quantity.too_large"
    message = "{what} {value} is more than a lot can hold ({limit})"


class QuantityNotPositive(Invalid):
    code = "quantity.not_positive"
    message = "{what} must be more than zero, not {value}"


class QuantityNegative(Invalid):
    code = "quantity.negative"
    message = "{what} must be zero or more, not {value}"


class ItemUnknown(Invalid):
    code = "lot.item_unknown"
    message = "unknown item {item}: add it to the master data first"


class LocationUnknown(Invalid):
    code = "lot.location_unknown"
    message = "unknown location {location}"


class SupplierUnknown(Invalid):
    code = "lot.supplier_unknown"
    message = "unknown supplier {supplier}"


class CustomerUnknown(Invalid):
    code = "lot.customer_unknown"
    message = "unknown customer {customer}"


class LotCodeTooLong(Invalid):
    code = "lot.code_too_long"
    message = "lot code {start}... is longer than 64 characters"


class CertificateInvalid(Invalid):
    code = "lot.certificate_invalid"
    message = "certificate must map field names to values"


class IssueOrderNotRunning(Conflict):
    code = "lot.issue_order_not_running"
    message = "work order {work_order} is {status}: material is issued to released or running orders"


class OutputOrderNotRunning(Conflict):
    code = "lot.output_order_not_running"
    message = "work order {work_order} is {status}: output is reported for running or completed orders"


class NotInBom(Invalid):
    code = "lot.not_in_bom"
    message = "item {item} is not in the BOM of {product} (components: {components})"


class SplitNeedsQuantity(Invalid):
    code = "lot.split_needs_quantity"
    message = "a split needs at least one quantity"


class SplitCodesCount(Invalid):
    code = "lot.split_codes_count"
    message = "{quantities} quantities but {codes} lot codes"


class MergeNeedsTwo(Invalid):
    code = "lot.merge_needs_two"
    message = "a merge needs at least two different lots, each named once"


class MergeItemsDiffer(Invalid):
    code = "lot.merge_items_differ"
    message = "lots of different items cannot be merged: {items}"


class HoldNeedsReason(Invalid):
    code = "lot.hold_needs_reason"
    message = "a hold needs a reason"


class ReleaseNeedsReason(Invalid):
    code = "lot.release_needs_reason"
    message = "a release needs a reason (e.g. the inspection that cleared it)"


class CountNeedsReason(Invalid):
    code = "lot.count_needs_reason"
    message = "a count correction needs a reason"


class LotAlreadyThere(Conflict):
    code = "lot.already_there"
    message = "lot {lot} is at {location} already"


class LotNoSupplier(Conflict):
    code = "lot.no_supplier"
    message = "lot {lot} has no supplier to return it to"


class LotActionUnknown(Invalid):
    code = "lot.action_unknown"
    message = "unknown action {action}"


# == quality: characteristics, samples, NCRs, alarms ===========================================================
class CharacteristicNotFound(NotFound):
    code = "characteristic.not_found"
    message = "no characteristic {characteristic}"


class CharacteristicOfProductNotFound(NotFound):
    code = "characteristic.not_found_for_product"
    message = "no characteristic {characteristic} of {product}"


class CharacteristicFieldsUnknown(Invalid):
    code = "characteristic.fields_unknown"
    message = "unknown fields: {fields}"


class CharacteristicFieldRequired(Invalid):
    code = "characteristic.field_required"
    message = "{field} is required"


class CharacteristicChartForKind(Invalid):
    code = "characteristic.chart_for_kind"
    message = "a {kind} is charted with {charts}, not {chart}"


class CharacteristicVariablesOnly(Invalid):
    code = "characteristic.variables_only"
    message = "{field} applies to variables only"


class CharacteristicKind(Invalid):
    code = "characteristic.kind"
    message = "kind must be variable or attribute, not {kind}"


class CharacteristicWholeNumber(Invalid):
    code = "characteristic.whole_number"
    message = "{field} must be a whole number of at least 1, not {value}"


class CharacteristicSubgroupSize(Invalid):
    code = "characteristic.subgroup_size"
    message = "an {chart} chart needs subgroups of 2 to 25, not {size}"


class CharacteristicSingleValues(Invalid):
    code = "characteristic.single_values"
    message = "an {chart} chart plots single values: sample_size must be 1, not {size}"


class CharacteristicNotFinite(Invalid):
    code = "characteristic.not_finite"
    message = "{field} must be a finite number, not {value}"


class SpecificationLimits(Invalid):
    code = "characteristic.limits"
    message = "lsl {lsl} must be below usl {usl}"


class NominalOutsideLimits(Invalid):
    code = "characteristic.nominal_outside"
    message = "nominal {nominal} lies outside the specification limits"


class PhaseOneTooShort(Invalid):
    code = "characteristic.phase1"
    message = "phase1 needs at least 2 subgroups"


class RulesInvalid(Invalid):
    """``problem`` is the rule parser's own account of what it could not read."""

    code = "characteristic.rules"
    message = "the rules cannot be read: {problem}"


class CusumRules(Invalid):
    code = "characteristic.cusum_rules"
    message = "a CUSUM chart is judged by its decision interval only: leave rules empty"


class ChartOptionsNotObject(Invalid):
    code = "characteristic.options_not_object"
    message = "options must be an object of chart options"


class ChartOptionsUnknown(Invalid):
    code = "characteristic.options_unknown"
    message = "unknown chart options: {options}"


class ChartOptionAbove(Invalid):
    code = "characteristic.option_above"
    message = "options.{option} must be above {low}, not {value}"


class ChartOptionBetween(Invalid):
    code = "characteristic.option_between"
    message = "options.{option} must be above {low} and at most {high}, not {value}"


class ChartOptionChoice(Invalid):
    code = "characteristic.option_choice"
    message = "options.{option} must be one of {choices}, not {value}"


class SettingNotNumber(Invalid):
    code = "characteristic.setting_not_number"
    message = "{field} {value} is not a number"


class PlausibleRangeReversed(Invalid):
    code = "characteristic.plausible_range"
    message = "valid_min {valid_min} must be below valid_max {valid_max}"


class LimitOutsidePlausibleRange(Invalid):
    code = "characteristic.limit_implausible"
    message = "{field} {value} lies outside the plausible range valid_min..valid_max"


class ProcessValueIncomplete(Invalid):
    code = "characteristic.process_value"
    message = "a characteristic from process values names both machine and process_value"


class OperationUnknown(Invalid):
    code = "characteristic.operation_unknown"
    message = "{product} has no operation {seq} in its routing"


class SampleFromProcess(Conflict):
    code = "sample.from_process"
    message = "{characteristic} comes from {machine}/{process_value}: nothing to record by hand"


class SampleSourceUnknown(Invalid):
    code = "sample.source"
    message = "source must be one of {sources}"


class SampleValuesMissing(Invalid):
    code = "sample.values_missing"
    message = "{characteristic} needs {size} measured value(s)"


class SampleValueNotNumber(Invalid):
    code = "sample.value_not_number"
    message = "value {index} ({value}) is not a number"


class SampleValueNotFinite(Invalid):
    code = "sample.value_not_finite"
    message = "value {index} must be a finite number, not {value}"


class SampleSize(Invalid):
    code = "sample.size"
    message = "{characteristic} takes {size} value(s) per sample, not {count}"


class SampleInspected(Invalid):
    code = "sample.inspected"
    message = "inspected must be the number of units inspected (at least 1)"


class SampleNonconforming(Invalid):
    code = "sample.nonconforming"
    message = "nonconforming must be a count of 0 or more"


class SampleImpossible(Invalid):
    code = "sample.impossible"
    message = "{nonconforming} nonconforming of {inspected} inspected is impossible"


class SampleNpSize(Invalid):
    code = "sample.np_size"
    message = "an np chart takes samples of {size}, not {inspected}"


class SampleWholeNumber(Invalid):
    code = "sample.whole_number"
    message = "{field} {value} is not a whole number"


class SampleLotUnknown(Invalid):
    code = "sample.lot_unknown"
    message = "no lot {lot}"


class SampleWorkOrderUnknown(Invalid):
    code = "sample.work_order_unknown"
    message = "no work order {work_order}"


class SampleKeyReused(Conflict):
    code = "sample.key_reused"
    message = "request key {key} was already used for another characteristic"


class SampleImplausible(Invalid):
    """``unit`` is empty or the characteristic's unit with a leading space."""

    code = "sample.implausible"
    message = (
        "value {index} ({value}{unit}) lies outside the plausible range of {characteristic}, {low} to {high}{unit}: "
        "check the entry (a stated range can be changed in the characteristic's settings)"
    )


class SampleNotFound(NotFound):
    code = "sample.not_found"
    message = "no sample {sample} of {characteristic}"


class SampleVoidReasonRequired(Invalid):
    code = "sample.void_reason_required"
    message = "a reason is required to void a sample"


class SampleExcludeReasonRequired(Invalid):
    code = "sample.exclude_reason_required"
    message = "a reason is required to exclude a sample"


class SampleReasonTooLong(Invalid):
    code = "sample.reason_too_long"
    message = "a reason has at most {max} characters"


class SampleAlreadyVoided(Conflict):
    code = "sample.already_voided"
    message = "sample {sample} was already voided by {by}: {reason}"


class SampleVoided(Conflict):
    code = "sample.voided"
    message = "sample {sample} is voided: it cannot be excluded"


class SamplesFileRefused(Problems):
    code = "sample.file_refused"
    message = "samples refused ({count} problem(s)), nothing stored"


class SamplesFileProblem(Invalid):
    """A problem of one line of a samples file: the ``error`` found there (its code and parameters are the
    problem's, with the ``line``)."""

    code = "sample.file_problem"
    message = "line {line}: {problem}"

    def __init__(self, line: int, error: DomainError) -> None:
        super().__init__(line=line, problem=str(error))
        self.line, self.error = line, error

    def to_dict(self) -> dict[str, Any]:
        return {**self.error.to_dict(), "line": self.line, "message": str(self)}

    def translated(self, translation: Translation) -> str:
        return fill(
            translation(self.code, self.message) or self.message,
            {**self.params, "problem": self.error.translated(translation)},
        )


class SamplesFileNotText(Invalid):
    code = "sample.file_not_utf8"
    message = "the file is not UTF-8 text: save it as CSV UTF-8"


class SamplesFileNotCsv(Invalid):
    code = "sample.file_not_csv"
    message = "not readable as CSV ({reason})"


class SamplesColumnsMissing(Invalid):
    code = "sample.columns_missing"
    message = "missing column(s) {columns}"


class SamplesColumnsUnknown(Invalid):
    code = "sample.columns_unknown"
    message = "unknown column(s) {columns}"


class SampleTimeInvalid(Invalid):
    code = "sample.time_invalid"
    message = "column ts: {value} is not ISO 8601 with a UTC offset"


class NcrNotFound(NotFound):
    code = "ncr.not_found"
    message = "no NCR {ncr}"


class NcrDescriptionMissing(Invalid):
    code = "ncr.description_missing"
    message = "describe the nonconformance"


class NcrSubjectMissing(Invalid):
    code = "ncr.subject_missing"
    message = "name the lot, work order or machine the nonconformance was found on"


class NcrQuantityTooLarge(Invalid):
    code = "ncr.quantity_too_large"
    message = "lot {lot} has {qty} {unit}: {wanted} cannot be nonconforming"


class NcrWorkOrderUnknown(Invalid):
    code = "ncr.work_order_unknown"
    message = "no work order {work_order}"


class NcrCharacteristicUnknown(Invalid):
    code = "ncr.characteristic_unknown"
    message = "no characteristic {characteristic}"


class NcrClosed(Conflict):
    code = "ncr.closed"
    message = "{ncr} is closed already ({disposition})"


class DispositionUnknown(Invalid):
    code = "ncr.disposition_unknown"
    message = "disposition must be one of {dispositions}, not {disposition}"


class DispositionNoteMissing(Invalid):
    code = "ncr.note_missing"
    message = "a disposition needs a note (what was decided and by whom)"


class AlarmNotFound(NotFound):
    code = "alarm.not_found"
    message = "no alarm {alarm}"


class AlarmAcknowledged(Conflict):
    code = "alarm.acknowledged"
    message = "alarm {alarm} was acknowledged by {by} already"


class AlarmCommentMissing(Invalid):
    code = "alarm.comment_missing"
    message = "say what was found and done"


# == master data ===============================================================================================
class MasterDataRefused(Problems):
    """Master data with problems, each with its sheet, row and column (``MasterDataProblem``)."""

    code = "master.refused"
    message = "invalid master data ({count} problem(s)), nothing was saved"


class MasterCodesInUse(Conflict):
    code = "master.codes_in_use"
    message = "lots refer to master data that the new data leaves out: {codes}; nothing was saved (keep these codes)"


class MasterNeedsPlant(Conflict):
    code = "master.needs_plant"
    message = "downtime reasons and defect codes belong to the plant: import the plant first"


class ItemNotFound(NotFound):
    code = "master.item_not_found"
    message = "no item {item}"


class BomCycle(Invalid):
    code = "master.bom_cycle"
    message = "BOM cycle: {path}"


class QuantityInvalid(Invalid):
    code = "master.quantity"
    message = "the quantity must be a finite number of zero or more, not {quantity}"


class FormulaWithoutValue(Invalid):
    code = "upload.formula_without_value"
    message = (
        "cell {cell} holds the formula {formula} but no calculated value: open the file in Excel or LibreOffice "
        "Calc, save it and upload it again"
    )


class ValueRequired(Invalid):
    code = "master.value_required"
    message = "a value is required"


class ExpectedText(Invalid):
    code = "master.expected_text"
    message = "expected text, got {type} {value}"


class EmptyText(Invalid):
    code = "master.empty_text"
    message = "empty text: leave it out instead"


class SurroundingSpaces(Invalid):
    code = "master.spaces"
    message = "{value} has leading or trailing spaces"


class ControlCharacter(Invalid):
    code = "master.control_character"
    message = "{value} contains the control character {character}"


class TextTooLong(Invalid):
    code = "master.text_too_long"
    message = "longer than {limit} characters ({length})"


class NotANumber(Invalid):
    code = "master.not_number"
    message = "{value} is not a number"


class NumberTooLarge(Invalid):
    code = "master.number_too_large"
    message = "{value} is too large"


class NotFinite(Invalid):
    code = "master.not_finite"
    message = "{value} is not a finite number"


class AtLeast(Invalid):
    code = "master.at_least"
    message = "must be at least {limit}, got {value}"


class GreaterThan(Invalid):
    code = "master.greater_than"
    message = "must be greater than {limit}, got {value}"


class LessThan(Invalid):
    code = "master.less_than"
    message = "must be less than {limit}, got {value}"


class AtMost(Invalid):
    code = "master.at_most"
    message = "must be at most {limit}, got {value}"


class NotWholeNumber(Invalid):
    code = "master.not_whole_number"
    message = "{value} is not a whole number"


class AppearsTwice(Invalid):
    code = "master.appears_twice"
    message = "{value} appears twice (also on row {row})"


class NotOneOf(Invalid):
    code = "master.not_one_of"
    message = "{value} is not one of {allowed}"


class MasterItemUnknown(Invalid):
    code = "master.item_unknown"
    message = "unknown item {item}"


class ComponentOfItself(Invalid):
    code = "master.component_of_itself"
    message = "item {item} cannot be a component of itself"


class WorkCentreUnknown(Invalid):
    code = "master.work_centre_unknown"
    message = "{work_centre} is not a machine or line of the plant"


class CountryCode(Invalid):
    code = "master.country"
    message = "{value} is not a two-letter upper-case country code (ISO 3166-1 alpha-2, e.g. KR, VN)"


class ReasonCodeForm(Invalid):
    code = "master.reason_code"
    message = "{value} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class StoredDataProblem(Invalid):
    """A problem of the stored data that a partial (CSV) import keeps, as it would be on its row of an export."""

    code = "master.in_stored_data"
    message = "{problem} (in the stored data, as on this row of an export)"


class OldExcelFile(Invalid):
    code = "master.xls"
    message = "an Excel 97-2003 file (.xls); save it as an Excel workbook (.xlsx)"


class DamagedZip(Invalid):
    code = "master.damaged_zip"
    message = "a damaged zip archive ({reason})"


class UnknownFileKind(Invalid):
    code = "master.file_kind"
    message = "{file}: not an Excel workbook (.xlsx), a zip of CSV files or a CSV file named after its sheet ({sheets})"


class UnpacksTooLarge(TooLarge):
    code = "master.unpacks_too_large"
    message = "the file unpacks to more than {limit_mib} MiB"


class TooManyRows(TooLarge):
    code = "import.too_many_rows"
    message = "the file has more than {limit} rows; split it into smaller files"


class NotWorkbook(Invalid):
    code = "master.not_workbook"
    message = "not an Excel workbook (.xlsx){reason}"


class SheetMissing(Invalid):
    code = "master.sheet_missing"
    message = "the sheet is missing (expected {sheets})"


class NotZip(Invalid):
    code = "master.not_zip"
    message = "not a zip archive of CSV files"


class FileTwiceInZip(Invalid):
    code = "master.file_twice"
    message = "{file} appears twice in the zip"


class CannotUnpack(Invalid):
    code = "master.cannot_unpack"
    message = "{file}: cannot be unpacked ({reason})"


class NoCsvInZip(Invalid):
    code = "master.no_csv"
    message = "the zip holds no CSV files (expected {files})"


class UnknownCsvFile(Invalid):
    code = "master.unknown_csv"
    message = "{file}: not a sheet of the master data (expected {files})"


class SecondFileForSheet(Invalid):
    code = "master.second_file"
    message = "{file}: a second file for this sheet"


class CsvNotText(Invalid):
    code = "master.csv_not_utf8"
    message = "not UTF-8 text (byte {byte}); save the file as 'CSV UTF-8'"


class CsvNotReadable(Invalid):
    code = "master.csv_not_readable"
    message = "not a readable CSV file: {reason}"


class HeaderMissing(Invalid):
    code = "master.header_missing"
    message = "the header row is missing (expected columns {columns})"


class ColumnUnknown(Invalid):
    code = "master.column_unknown"
    message = "unknown column {column} (expected columns {columns})"


class ColumnTwice(Invalid):
    code = "master.column_twice"
    message = "the column appears twice"


class ColumnMissing(Invalid):
    code = "master.column_missing"
    message = "the column is missing"


class ValueWithoutHeader(Invalid):
    code = "master.value_without_header"
    message = "a value in column {column}, which has no header"


# == reports and schedules =====================================================================================
class ShiftNotOnDay(Invalid):
    code = "report.shift_not_on_day"
    message = "no {shift} shift on {day} (shifts: {shifts})"


class DayInvalid(Invalid):
    code = "report.day_invalid"
    message = "{value} is not a date (YYYY-MM-DD)"


class PeriodInvalid(Invalid):
    code = "report.period_invalid"
    message = "period {period}: expected FROM..TO as dates, e.g. 2026-01-01..2026-03-31"


class PeriodReversed(Invalid):
    code = "report.period_reversed"
    message = "period {period} ends before it starts"


class PeriodTooLong(Invalid):
    code = "report.period_too_long"
    message = "period {period} is longer than ten years"


class PeriodsOverlap(Invalid):
    code = "report.periods_overlap"
    message = "the baseline and comparison periods overlap"


class TargetKpiUnknown(Invalid):
    code = "report.target_kpi_unknown"
    message = "unknown KPI in targets: {kpis} (known: {known})"


class TargetInvalid(Invalid):
    code = "report.target_invalid"
    message = "target {target}: expected KPI=NUMBER, e.g. ppm=1500"


class ReportLanguage(Invalid):
    code = "report.language"
    message = "the language must be one of {languages}, not {lang}"


class ReportFormat(Invalid):
    code = "report.format"
    message = "no {format} version of this report"


class JobNotFound(NotFound):
    code = "report.job_not_found"
    message = "no such report run (it may have expired)"


class JobNotReady(Conflict):
    code = "report.job_not_ready"
    message = "the report is not ready"


class JobFailed(Conflict):
    code = "report.job_failed"
    message = "the report could not be made: {reason}"


class JobLost(Conflict):
    code = "report.job_lost"
    message = "the worker making the report stopped; start it again"


class ScheduleNotFound(NotFound):
    code = "schedule.not_found"
    message = "no schedule {schedule}"


class ScheduleNameMissing(Invalid):
    code = "schedule.name_missing"
    message = "name is required"


class ScheduleExists(Conflict):
    code = "schedule.exists"
    message = "a schedule {schedule} exists already"


class SchedulePeriod(Invalid):
    code = "schedule.period"
    message = "period must be shift or day, not {period}"


class ScheduleFormats(Invalid):
    code = "schedule.formats"
    message = "formats must be one of {formats}"


class ScheduleDelivery(Invalid):
    code = "schedule.delivery"
    message = "delivery must be folder or email, not {delivery}"


class ScheduleTargetMissing(Invalid):
    code = "schedule.target_missing"
    message = "target is required: a folder, or e-mail addresses"


class ScheduleAddresses(Invalid):
    code = "schedule.addresses"
    message = "target {target}: e-mail addresses separated by commas"


class ScheduleFolder(Invalid):
    code = "schedule.folder"
    message = "target {target}: an absolute folder path"


class ScheduleDeliveryTarget(Invalid):
    code = "schedule.delivery_target"
    message = "give exactly one of a folder and e-mail addresses"


class MailNotConfigured(Unavailable):
    code = "schedule.mail_not_configured"
    message = "e-mail needs SHOPFLOOR_SMTP_URL and SHOPFLOOR_SMTP_FROM"


class MailUrlInvalid(Unavailable):
    code = "schedule.mail_url"
    message = "SHOPFLOOR_SMTP_URL {scheme}://...: expected smtp:// or smtps://"


# == the hub ===================================================================================================
class OrganisationNotFound(NotFound):
    """Nothing of that name in the asker's scope: the hub answers the same whether it exists elsewhere or not."""

    code = "hub.organisation_not_found"
    message = "no organisation {organisation}"


class SponsorNotFound(NotFound):
    """Also the answer for a sponsor that exists but is none of the asking factory's: nothing is revealed."""

    code = "hub.sponsor_not_found"
    message = "no sponsor {sponsor}"


class FactoryNotFound(NotFound):
    code = "hub.factory_not_found"
    message = "no factory {factory}"


class ProgramNotFound(NotFound):
    code = "hub.program_not_found"
    message = "no program {program}"


class ProjectNotFound(NotFound):
    code = "hub.project_not_found"
    message = "no project {project}"


class ConsentNotFound(NotFound):
    code = "hub.consent_not_found"
    message = "no consent {consent}"


class OrganisationExists(Conflict):
    code = "hub.organisation_exists"
    message = "organisation {organisation} exists already"


class ProgramExists(Conflict):
    code = "hub.program_exists"
    message = "program {program} exists already"


class ProjectExists(Conflict):
    code = "hub.project_exists"
    message = "project {project} exists already"


class OrganisationKind(Invalid):
    code = "hub.organisation_kind"
    message = "kind must be office, sponsor or factory, not {kind}"


class OrganisationIncomplete(Invalid):
    code = "hub.organisation_incomplete"
    message = "an organisation needs a code and a name"


class TimezoneUnknown(Invalid):
    code = "hub.timezone"
    message = "unknown time zone {timezone} (an IANA name such as Asia/Seoul)"


class PublicKeyInvalid(Invalid):
    code = "hub.public_key"
    message = "only a factory has a public key, of 32 bytes (Ed25519), given in base64"


class PercentRange(Invalid):
    code = "hub.percent_range"
    message = "{name} {value} must be a percentage between 0 and 100 with at most 4 decimals"


class PartyCode(Invalid):
    code = "hub.party_code"
    message = "party {party}: a code of small letters, digits and _ (state, sponsor, sme, local)"


class RuleLimitsCrossed(Invalid):
    code = "hub.rule_limits_crossed"
    message = "the {party} minimum of {low} % is above its maximum of {high} %"


class WonNegative(Invalid):
    code = "hub.won_negative"
    message = "{name} must not be negative"


class RuleMinimumsAboveHundred(Invalid):
    code = "hub.rule_minimums"
    message = "the parties' minimum shares add up to {total} %, more than 100 %"


class RuleTotalsCrossed(Invalid):
    code = "hub.rule_totals_crossed"
    message = "the project total's minimum of {low} won is above its maximum of {high} won"


class RuleDates(Invalid):
    code = "hub.rule_dates"
    message = "the rule ends on {end}, before it takes effect on {start}"


class BudgetNotPositive(Invalid):
    code = "hub.budget_not_positive"
    message = "the project total must be more than zero"


class ShareNegative(Invalid):
    code = "hub.share_negative"
    message = "the {party} share of {amount} won must not be negative"


class SharesNotBudget(Invalid):
    code = "hub.shares_not_budget"
    message = "the shares add up to {total} won, not the project total of {budget} won"


class ShareOfPartyOutsideRule(Invalid):
    code = "hub.share_outside_rule"
    message = "the {party} share of {amount} won: the rule {rule} has no share for {party}"


class ShareBelowMinimum(Invalid):
    code = "hub.share_below_minimum"
    message = "the {party} share of {amount} won is {pct} % of the total; the rule {rule} asks for at least {limit} %"


class ShareAboveMaximum(Invalid):
    code = "hub.share_above_maximum"
    message = "the {party} share of {amount} won is {pct} % of the total; the rule {rule} allows at most {limit} %"


class ShareAboveCap(Invalid):
    code = "hub.share_above_cap"
    message = "the {party} share of {amount} won is above the cap of {cap} won of the rule {rule}"


class TotalAboveMaximum(Invalid):
    code = "hub.total_above_maximum"
    message = "the project total of {total} won is above the {limit} won of the rule {rule}"


class TotalBelowMinimum(Invalid):
    code = "hub.total_below_minimum"
    message = "the project total of {total} won is below the {limit} won of the rule {rule}"


class NoFundingRule(Invalid):
    code = "hub.no_funding_rule"
    message = "program {program} has no {type} rule for {year} in force on {day}"


class KpiUnknown(Invalid):
    code = "hub.kpi_unknown"
    message = "{field}: unknown KPI {kpis} (known: {known})"


class ProjectRefused(Problems):
    code = "hub.project_refused"
    message = "the project was refused ({count} problem(s))"


class RuleRefused(Problems):
    code = "hub.rule_refused"
    message = "the rule was refused ({count} problem(s))"


class PartyWithoutShare(Invalid):
    code = "hub.party_without_share"
    message = "project {project} has no share for {party}"


class LedgerKind(Invalid):
    code = "hub.ledger_kind"
    message = "kind must be contribution or payment, not {kind}"


class AmountInvalid(Invalid):
    code = "hub.amount"
    message = "an amount is a whole number of won above zero"


class LedgerAboveCommitment(Conflict):
    code = "hub.ledger_above_commitment"
    message = "the {party}'s {kind}s would reach {total} won, more than its commitment of {commitment} won"


class LedgerEntryNotFound(NotFound):
    code = "hub.ledger_entry_not_found"
    message = "no ledger entry {entry} in project {project}"


class LedgerEntryReversed(Conflict):
    code = "hub.ledger_entry_reversed"
    message = "ledger entry {entry} was reversed already"


class ReversalOfReversal(Invalid):
    code = "hub.reversal_of_reversal"
    message = "entry {entry} is itself a reversal: enter the amount again instead"


class CorrectionNeedsReason(Invalid):
    code = "hub.correction_needs_reason"
    message = "a correction needs a reason"


class CommitmentBelowLedger(Conflict):
    code = "hub.commitment_below_ledger"
    message = "the {party} share cannot drop to {amount} won: {moved} won were already entered in the ledger"


class MilestoneNotFound(NotFound):
    code = "hub.milestone_not_found"
    message = "no milestone {milestone} in project {project}"


class MilestoneDone(Conflict):
    code = "hub.milestone_done"
    message = "milestone {milestone} was completed already, on {done_at}"


class OnlyFactoryShares(Invalid):
    code = "hub.only_factory_shares"
    message = "only a factory shares its own figures"


class ChooseKpis(Invalid):
    code = "hub.choose_kpis"
    message = "choose KPIs among {known}"


class MonthWithoutData(Invalid):
    code = "hub.month_without_data"
    message = "{period} has no data in this factory's store: there is nothing to share"


class SharedKpiUnknown(Invalid):
    code = "hub.shared_kpi_unknown"
    message = "unknown KPI {kpis}: choose among {known}"


class MonthlyOnly(Invalid):
    code = "hub.monthly_only"
    message = "figures are shared monthly; raw data stays at the factory"


class OnlyFactoryWithdraws(Invalid):
    code = "hub.only_factory_withdraws"
    message = "only the factory that gave a consent withdraws it"


class ConsentWithdrawn(Conflict):
    code = "hub.consent_withdrawn"
    message = "consent {consent} was withdrawn already"


class ConsentTextNotAgreed(Invalid):
    code = "hub.consent_text"
    message = "agree to the consent text of version {version} first"


class WithdrawalScope(Invalid):
    code = "hub.withdrawal_scope"
    message = "withdraw a month (YYYY-MM), a KPI, or one KPI of one month"


class ReportNeedsFactoryToken(Invalid):
    code = "hub.report_needs_factory"
    message = "outcome reports are sent with a factory's token"


class ReportShape(Invalid):
    code = "hub.report_shape"
    message = 'a report is {{"payload": {{...}}, "signature": "..."}}'


class ReportLacks(Invalid):
    code = "hub.report_lacks"
    message = "the report lacks {fields}"


class ReportExtraFields(Invalid):
    code = "hub.report_extra_fields"
    message = "the report has fields the hub does not take: {fields}"


class ReportFieldInvalid(Invalid):
    code = "hub.report_field"
    message = "{field}: {expected}"


class ReportOtherFactory(Invalid):
    code = "hub.report_other_factory"
    message = "a token of {own} cannot send a report of {factory}"


class SignatureRefused(Invalid):
    code = "hub.signature_refused"
    message = "signature refused: {reason}"


class SignedAtInvalid(Invalid):
    code = "hub.signed_at"
    message = "signed_at must be ISO 8601 with a UTC offset"


class ReportStale(Invalid):
    code = "hub.report_stale"
    message = "the report was signed at {signed_at}, more than 15 minutes from the hub's clock"


class ReportReplayed(Conflict):
    code = "hub.report_replayed"
    message = "report {nonce} was received before: a replay is refused"


class MonthInvalid(Invalid):
    code = "hub.month"
    message = "period {period} must be a month, YYYY-MM, from 2000 on"


class MonthInFuture(Invalid):
    code = "hub.month_in_future"
    message = "{period} has not begun: only closed months, or the current month marked partial, are reported"


class MonthNotClosed(Invalid):
    code = "hub.month_not_closed"
    message = "{period} is not over yet: send it marked partial"


class ReportKpisShape(Invalid):
    code = "hub.report_kpis"
    message = "kpis must map at most {limit} KPI names to numbers"


class KpiValueInvalid(Invalid):
    code = "hub.kpi_value"
    message = "{kpi}: {value} is not a number between {low} and {high}"


class NoConsent(Invalid):
    code = "hub.no_consent"
    message = "{factory} has no consent to share with {sponsor}"


class ConsentDoesNotCover(Invalid):
    code = "hub.consent_does_not_cover"
    message = "the consent to {sponsor} does not cover {kpis}"


class KeyExists(Conflict):
    code = "hub.key_exists"
    message = "this public key is registered already: a key belongs to one factory, once"


class KeyNotFound(NotFound):
    code = "hub.key_not_found"
    message = "no key {key} of {factory}"


class NoActiveKey(Invalid):
    code = "hub.no_active_key"
    message = "{factory} has no key in use at the hub: the program office registers one"


class KeyRetired(Invalid):
    code = "hub.key_retired"
    message = "key {key} of {factory} was replaced on {retired_at}: sign with the key in use"


class KeyRevoked(Invalid):
    code = "hub.key_revoked"
    message = "key {key} of {factory} was revoked on {revoked_at}"


class KeyRevokedAlready(Conflict):
    code = "hub.key_revoked_already"
    message = "key {key} was revoked already"


class SelfReportedUnknown(Invalid):
    code = "hub.self_reported_unknown"
    message = "unknown self-reported figure {items} (known: {known})"


class SelfReportedValue(Invalid):
    code = "hub.self_reported_value"
    message = "{item}: {value} is not a whole number between 0 and {high}"


class YearInvalid(Invalid):
    code = "hub.year"
    message = "year {year} must be between 2000 and {high}"


class HubUnreachable(Unavailable):
    code = "hub.unreachable"
    message = "the hub at {hub} cannot be reached: {reason}"


class HubRefusedReport(Conflict):
    """``refusal`` is the hub's code of its refusal (``hub.report_replayed``), ``detail`` its message."""

    code = "hub.refused_report"
    message = "the hub refused the report ({status} {refusal}): {detail}"


class KeyNotEd25519(Invalid):
    code = "hub.key_not_ed25519"
    message = "the key is not an Ed25519 private key"


# == backups ===================================================================================================
class NotABackup(Invalid):
    code = "backup.not_a_backup"
    message = "{file} is not a shopfloor backup{reason}"


class BackupRevision(Conflict):
    code = "backup.revision"
    message = "the backup has schema revision {backup}, this store {store}: restore into a store of the same version"


class StoreNotEmpty(Conflict):
    code = "backup.store_not_empty"
    message = "the store is not empty (table {table} has rows): restore into an empty store"


class BackupDamaged(Invalid):
    code = "backup.damaged"
    message = "{file}: line {line} is damaged ({reason})"


class BackupIncomplete(Invalid):
    code = "backup.incomplete"
    message = "the backup is incomplete, nothing restored: rows (read, expected) {counts}"


# == machine data sources ======================================================================================
class DiscoveryFailed(Unavailable):
    code = "connect.unreachable"
    message = "{endpoint} did not answer as expected ({reason})"


class EndpointMissing(Invalid):
    code = "connect.endpoint_missing"
    message = "enter the {what} of the machine's data source"


class ProtocolUnknown(Invalid):
    code = "connect.protocol_unknown"
    message = "{protocol} is not one of {protocols}"


class NothingMapped(Invalid):
    code = "connect.nothing_mapped"
    message = "map at least one source to the state, a counter, the alarm code or a process value"


class RoleTwice(Invalid):
    code = "connect.role_twice"
    message = "{role} is mapped to two sources; keep one"


class ConnectorStatusMissing(NotFound):
    code = "connectors.no_status"
    message = "no connector status yet: the ingest (demo, serve or ingest) has not run"


# == assets ====================================================================================================
class AssetUnknown(NotFound):
    code = "asset.unknown"
    message = "no asset {name}"


class AssetsNotInstalled(Unavailable):
    code = "asset.not_installed"
    message = "browser libraries are not installed: run ./run setup"


# == input that no store may hold (security) ===================================================================
class TextHasNul(Invalid):
    code = "input.nul_character"
    message = "text may not contain the NUL character (code 0): remove it and try again"


# == the floor: the server's own failures, shown as a page =====================================================
class Fault(DomainError):
    """The server failed on a request that was not wrong (a bug, a lost database): logged, and said so."""


class ServerFault(Fault):
    code = "server.fault"
    message = "the server could not do this ({reference}); it is logged: try again or call the supervisor"


# == the floor: reason and defect codes ========================================================================
class ReasonKindUnknown(Invalid):
    code = "reason.kind"
    message = "the kind is downtime or defects, not {kind}"


class ReasonCodeBad(Invalid):
    code = "reason.code"
    message = "{code} is not a code: letters or digits of any script, then '_', '.' or '-', up to 64"


class ReasonNameBad(Invalid):
    code = "reason.name"
    message = "the name in {lang} must have 1 to {max} characters"


class ReasonGroupBad(Invalid):
    code = "reason.group"
    message = "{group} is not a group path such as breakdown/electrical"


class ReasonIconBad(Invalid):
    code = "reason.icon"
    message = "the icon must have 1 to 8 characters"


class ReasonColourBad(Invalid):
    code = "reason.colour"
    message = "{colour} is not a colour such as #d93025"


class ReasonMachineUnknown(Invalid):
    code = "reason.machine_unknown"
    message = "{machine} is not a machine or line of the plant"


class ReasonExists(Conflict):
    code = "reason.exists"
    message = "the code {code} exists already"


class ReasonNotFound(NotFound):
    code = "reason.not_found"
    message = "no code {code}"


# == maintenance and moulds ====================================================================================
class MaintenancePlanExists(Conflict):
    code = "maintenance.plan_exists"
    message = "maintenance plan {plan} exists already"


class MaintenancePlanUnknown(NotFound):
    code = "maintenance.plan_unknown"
    message = "no maintenance plan {plan}"


class MaintenancePlanSubject(Invalid):
    code = "maintenance.plan_subject"
    message = "a maintenance plan is for one machine or one mould: name exactly one of them"


class MaintenanceTriggerInvalid(Invalid):
    code = "maintenance.trigger_invalid"
    message = "trigger {trigger} is not one of {allowed}"


class MaintenanceShotsNeedMould(Invalid):
    code = "maintenance.shots_need_mould"
    message = "a plan by shot count is for a mould, not a machine"


class MaintenanceNumberInvalid(Invalid):
    code = "maintenance.number_invalid"
    message = "{field} must be a number of at least {minimum}, not {value}"


class MaintenanceOrderUnknown(NotFound):
    code = "maintenance.order_unknown"
    message = "no maintenance order {order}"


class MaintenanceStepNotAllowed(Conflict):
    code = "maintenance.step_not_allowed"
    message = "maintenance order {order} is {status}: it can go to {allowed}, not {target}"


class BreakdownAlreadyOpen(Conflict):
    code = "maintenance.breakdown_open"
    message = "machine {machine} has an open breakdown request already: {order}"


class PlanOrderAlreadyOpen(Conflict):
    code = "maintenance.plan_order_open"
    message = "plan {plan} has an open maintenance order already: {order}"


class ChecklistIncomplete(Invalid):
    code = "maintenance.checklist_incomplete"
    message = "checklist items not done: {items}"


class MaintenancePartInvalid(Invalid):
    code = "maintenance.part_invalid"
    message = "part line {line}: give a part, a quantity above zero and a unit cost of zero or more"


class MouldExists(Conflict):
    code = "mould.exists"
    message = "mould {mould} exists already"


class MouldUnknown(NotFound):
    code = "mould.unknown"
    message = "no mould {mould}"


class MouldMounted(Conflict):
    code = "mould.mounted"
    message = "mould {mould} is mounted on {machine}: unmount it first"


class MachineHoldsMould(Conflict):
    code = "mould.machine_occupied"
    message = "machine {machine} holds mould {mould}: unmount it first"


class MouldNotMounted(Conflict):
    code = "mould.not_mounted"
    message = "mould {mould} is not mounted"


# == documents and NC programs =================================================================================
class DocumentExists(Conflict):
    code = "document.exists"
    message = "document {document} exists already"


class DocumentUnknown(NotFound):
    code = "document.unknown"
    message = "no document {document}"


class DocumentKindInvalid(Invalid):
    code = "document.kind_invalid"
    message = "kind {kind} is not one of {allowed}"


class DocumentScopeMissing(Invalid):
    code = "document.scope_missing"
    message = "a document is for an item, an operation of an item or a machine: name at least one"


class DocumentRevisionExists(Conflict):
    code = "document.revision_exists"
    message = "document {document} has a revision {revision} already"


class DocumentRevisionUnknown(NotFound):
    code = "document.revision_unknown"
    message = "document {document} has no revision {revision}"


class DocumentFileEmpty(Invalid):
    code = "document.file_empty"
    message = "{filename} is empty"


class DocumentFileTooLarge(TooLarge):
    code = "document.file_too_large"
    message = "{filename} is {size} bytes: the limit is {limit}"


class DocumentMediaRefused(UnsupportedMedia):
    code = "document.media_refused"
    message = "{filename}: {media_type} is not accepted (PDF, images, text and NC programs are)"


class DocumentAlreadyApproved(Conflict):
    code = "document.already_approved"
    message = "revision {revision} of {document} is approved already"


class DocumentRevisionNotCurrent(Conflict):
    code = "document.revision_not_current"
    message = "revision {revision} of {document} is {state}: the revision in force is {current}"


class DocumentNotConfirmed(Conflict):
    code = "document.not_confirmed"
    message = "read and confirm revision {revision} of {document} ({title}) before starting {work_order}"


class NcDesignMissing(Invalid):
    code = "nc.design_missing"
    message = "an NC program revision names its design revision and the CAD/CAM file's SHA-256"


class NcHashInvalid(Invalid):
    code = "nc.hash_invalid"
    message = "{value} is not a SHA-256 (64 hexadecimal digits)"


class NcNotAProgram(Invalid):
    code = "nc.not_a_program"
    message = "document {document} is not an NC program"


class NcTargetMissing(Invalid):
    code = "nc.target_missing"
    message = "machine {machine} has no DNC target: set an FTP address or a shared folder"


class NcTargetInvalid(Invalid):
    code = "nc.target_invalid"
    message = "DNC target {target}: use ftp://user:password@host:port/folder or an absolute folder path"


class NcTransferFailed(Unavailable):
    code = "nc.transfer_failed"
    message = "sending to {target} failed: {reason}"


# == skills ====================================================================================================
class SkillExists(Conflict):
    code = "skill.exists"
    message = "skill {skill} exists already"


class SkillUnknown(NotFound):
    code = "skill.unknown"
    message = "no skill {skill}"


class SkillOperationUnknown(NotFound):
    code = "skill.operation_unknown"
    message = "item {item} has no operation {seq}"


class SkillMissing(Forbidden):
    code = "skill.missing"
    message = "{operator} is not certified for {skill}, which operation {operation} needs"


class SkillExpired(Forbidden):
    code = "skill.expired"
    message = "the certification of {operator} for {skill} expired on {expired}: operation {operation} needs it"


class SkillExpiryInvalid(Invalid):
    code = "skill.expiry_invalid"
    message = "{value} is not a date (YYYY-MM-DD)"


# == the floor: shift handover and defect photos ===============================================================
class HandoverTextBad(Invalid):
    code = "handover.text"
    message = "a handover note has 1 to {max} characters"


class HandoverNoShift(Conflict):
    code = "handover.no_shift"
    message = "no shift is on now: a handover note belongs to a shift"


class PhotoAlreadyAttached(Conflict):
    code = "photo.already_attached"
    message = "the scrap entry {entry} has another photo already"


class PhotoTooLarge(TooLarge):
    code = "photo.too_large"
    message = "the photo is larger than {limit}"


class PhotoNotImage(UnsupportedMedia):
    code = "photo.not_image"
    message = "send a JPEG, PNG or WebP picture, not {content_type}"


class PhotoNotFound(NotFound):
    code = "photo.not_found"
    message = "no photo {photo}"


class EventTimeImplausible(Invalid):
    code = "event.time_implausible"
    message = "event {where}: time {ts} is not plausible (between 1970 and 2999)"


class CsvLooksLikeCp949(Invalid):
    """Korean Excel saves "CSV (comma delimited)" in CP949; the file is refused with how to save it as UTF-8."""

    code = "file.looks_like_cp949"
    message = (
        "the file is not UTF-8 but looks like CP949, the encoding of Korean Excel's 'CSV (comma delimited)': in "
        "Excel choose Save As and the type 'CSV UTF-8 (comma delimited)', then send that file"
    )


class ScheduleFolderOutside(Invalid):
    code = "schedule.folder_outside_roots"
    message = "target {target}: reports may be written only under {roots}"


class ScheduleNoRoots(Invalid):
    code = "schedule.no_report_roots"
    message = "no report folders are configured: set SHOPFLOOR_REPORT_ROOTS, or send the reports by e-mail"
