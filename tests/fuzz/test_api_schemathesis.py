"""The REST API fuzzed from its own OpenAPI document (schemathesis): no request, however odd, gets a server error
or an answer that contradicts the document.  Signed in as an admin with an API token, so the handlers run."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shopfloor.actions.demo import sample_plant
from shopfloor.app import create_app
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from tests.lots_data import add_master_data

EXAMPLES = 12
# Requests that fit the schema may still be refused (422) for what a schema cannot say (a plant file that is not a
# valid plant, a lot that does not exist): the answers must still be as documented, never a server error.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    engine = open_store(str(tmp_path_factory.mktemp("fuzz") / "fuzz.db"))
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "fuzz")
        add_master_data(conn, with_plant=False)
        admin = accounts.create_user(conn, "fuzzer", "admin", password="fuzzer-password-1")
        token = accounts.create_api_token(conn, admin, "fuzz")
    app = create_app(Settings(), engine=engine)
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app), {"Authorization": f"Bearer {token}"}
    engine.dispose()


def test_no_operation_answers_with_a_server_error_or_off_its_document(api):
    schema, headers = api
    problems: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                body = ascii(case.body)[:200] if case.body is not None else ""
                problems.append(
                    f"{case.operation.label}: {response.status_code} for {case.path_parameters} {case.query} {body}"
                )
                return
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every contradiction is collected
                problems.append(f"{case.operation.label}: {' '.join(str(exc).split())[:300]}")

        check()
    assert problems == [], "\n".join(sorted(set(problems))[:40])
