"""catalog/service.py in-process: nameko's worker_factory with fakes of the catalog's ports."""

from __future__ import annotations

import uuid

import pytest
from catalog_unit_fakes import FakeProducts, FakeState, FakeStore, refunded, succeeded
from nameko.testing.services import worker_factory

from catalog.service import CatalogService
from shared.errors import OutOfStock, ProductNotFound, ReservationLapsed, ValidationFailed


@pytest.fixture
def service(state: FakeState) -> CatalogService:
    return worker_factory(CatalogService, store=FakeStore(state), reads=FakeProducts(state))


def make(service, stock: int = 3) -> dict:
    return service.create_product({"sku": f"S-{uuid.uuid4().hex[:8]}", "name": "Chair",
                                   "price": 100, "stock": stock})


def test_product_writes_need_the_admin_role_and_reads_see_them(service, state):
    created = make(service)
    service.principal.require_role.assert_called_with("admin")
    assert service.get_product(created["id"]) == created
    assert service.get_products([created["id"], str(uuid.uuid4())]) == [created]
    assert service.adjust_stock(created["id"], 2, "found two")["available"] == 5
    updated = service.update_product(created["id"], {"price": 250}, expected_version=2)
    assert (updated["price"], updated["version"]) == (250, 3)
    assert [p["id"] for p in service.list_products(limit=5)["items"]] == [created["id"]]
    service.delete_product(created["id"])
    assert service.get_product(created["id"])["deleted"] is True
    assert [t for t, _ in state.events] == ["product_created", "stock_changed",
                                            "product_updated", "product_deleted"]


def test_arguments_are_checked_before_any_use_case(service, state):
    with pytest.raises(ValidationFailed):
        service.get_product("not-a-uuid")
    with pytest.raises(ValidationFailed):
        service.reserve_stock("r1", [{"product_id": "nope", "quantity": 1}])
    with pytest.raises(ProductNotFound):
        service.get_product(str(uuid.uuid4()))
    assert state.events == []


def test_reservations_over_rpc(service, state):
    pid = make(service)["id"]
    answer = service.reserve_stock("r1", [{"product_id": pid, "quantity": 2}],
                                   with_products=True)
    assert answer["status"] == "active" and answer["products"][0]["available"] == 1
    with pytest.raises(OutOfStock):
        service.reserve_stock("r2", [{"product_id": pid, "quantity": 2}])
    assert service.get_reservation("r1")["status"] == "active"
    assert service.release_reservation("r1")["status"] == "released"
    with pytest.raises(ReservationLapsed):
        service.commit_reservation("r1")
    service.reserve_stock("r3", [{"product_id": pid, "quantity": 1}])
    assert service.commit_reservation("r3")["status"] == "committed"
    assert state.products[uuid.UUID(pid)]["on_hand"] == 2


def test_the_sweep_expires_every_due_reservation(service, state, tx, monkeypatch):
    pid = make(service, stock=500)["id"]
    monkeypatch.setattr("catalog.reservations.SWEEP_BATCH", 2)
    for i in range(5):
        service.reserve_stock(f"due-{i}", [{"product_id": pid, "quantity": 1}])
    monkeypatch.setattr("catalog.service.utcnow", lambda: state.clock.replace(year=2099))
    service.expire_reservations()
    assert {r.status for r in state.reservations.values()} == {"expired"}
    assert state.products[uuid.UUID(pid)]["reserved"] == 0


def test_payments_events_are_applied_once(service, state):
    pid = make(service)["id"]
    pay, sale = uuid.uuid4(), uuid.uuid4()
    service.reserve_stock(str(pay), [{"product_id": pid, "quantity": 2}])
    service.on_payment_succeeded(succeeded(pay, sale))
    service.on_payment_succeeded(succeeded(pay, sale))
    assert state.reservations[str(pay)].status == "committed"
    assert state.products[uuid.UUID(pid)]["on_hand"] == 1
    service.on_payment_refunded(refunded(pay))
    assert state.products[uuid.UUID(pid)]["on_hand"] == 3
