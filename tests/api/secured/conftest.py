"""The API tests that run with access control on: one test issuer, one secured app and the access
world (teams, residents, guardians, hospital, public health) per module and database."""

from __future__ import annotations

import pytest
from auth_support import SECURED_BASE, TestIssuer, built_access_world, secured_app


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    return TestIssuer(tmp_path_factory.mktemp("idp"), SECURED_BASE)


@pytest.fixture(scope="module")
def app(database_url, issuer):
    app = secured_app(database_url, issuer)
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture(scope="module")
def world(app, issuer):
    return built_access_world(app, issuer)
