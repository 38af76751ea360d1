"""Database URLs as hosting providers hand them out are accepted; anything else is one line."""

from __future__ import annotations

import pytest

from shared.settings import ConfigurationError, ServiceSettings, load, normalise_database_url


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://app@db.example.com/shop", "postgresql+psycopg2://app@db.example.com/shop"),
    ("postgres://app:s%40cret@db:6543/shop?sslmode=require",
     "postgresql+psycopg2://app:s%40cret@db:6543/shop?sslmode=require"),
    ("postgresql+psycopg2://postgres@127.0.0.1:5432/auth",
     "postgresql+psycopg2://postgres@127.0.0.1:5432/auth"),
])
def test_libpq_forms_mean_the_installed_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(("given", "says"), [
    ("postgresql+psycopg://app@db/shop", "driver 'psycopg' is not installed"),
    ("mysql://app@db/shop", "'mysql' is not PostgreSQL"),
    ("db.example.com/shop", "not a database URL"),
])
def test_other_urls_are_refused_with_the_form_to_use(given: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalise_database_url(given)


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import Field

    class Shop(ServiceSettings):
        database_url: str = Field(default="postgresql://x@y/z", validation_alias="SHOP_DB_URL")

    monkeypatch.setenv("SHOP_DB_URL", "mysql://app@db/shop")
    monkeypatch.setenv("RPC_TIMEOUT", "-1")
    with pytest.raises(ConfigurationError) as raised:
        load(Shop)
    line = str(raised.value.code)
    assert "\n" not in line
    assert line.startswith("error: configuration: ")
    assert "SHOP_DB_URL: 'mysql' is not PostgreSQL" in line
    assert "RPC_TIMEOUT: Input should be greater than 0" in line


def test_a_service_settings_subclass_normalises_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import Field

    class Shop(ServiceSettings):
        database_url: str = Field(default="", validation_alias="SHOP_DB_URL")

    monkeypatch.setenv("SHOP_DB_URL", "postgres://app@db/shop")
    assert load(Shop).database_url == "postgresql+psycopg2://app@db/shop"
