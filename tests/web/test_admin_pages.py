"""/admin on SQLite and PostgreSQL: 404 for everybody but admins, roles granted and revoked
with the form token, applications (de)activated (and /v2/lookup refusing a deactivated key),
the queue and index figures, and hostile input."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import accounts, applications, opendata, stats, submissions
from earmark.db.accounts import Account
from earmark.db.engine import Databases
from tests.api.harness import ApiHarness
from tests.web.harness import WebHarness, csrf_token

ADMIN_PAGES = ("/admin", "/admin/accounts", "/admin/applications", "/admin/accounts?q=x")


def _make_admin(web: WebHarness, login: str = "boss") -> Account:
    account = web.create_account(login)
    with web.dbs.write() as conns:
        assert accounts.set_roles(conns.app, account.id, is_admin=True)
    return account


def _get(dbs: Databases, account_id: int) -> Account:
    with dbs.read() as conns:
        found = accounts.get(conns.app, account_id)
    assert found is not None
    return found


@pytest.fixture
def admin(web: WebHarness) -> Account:
    account = _make_admin(web)
    web.sign_in("boss")
    return account


def _roles(web: WebHarness, account_id: int, **fields: str) -> object:
    token = web.token("/admin/accounts")
    return web.client.post(
        f"/admin/accounts/{account_id}/roles",
        data={"csrf_token": token, **fields},
        follow_redirects=False,
    )


def test_nobody_but_an_admin_sees_it(web: WebHarness) -> None:
    plain = web.create_account("plain")
    moderator = web.create_account("moderator")
    with web.dbs.write() as conns:
        accounts.set_roles(conns.app, moderator.id, is_moderator=True)
    anonymous = web.new_client()
    for who, client in (("anonymous", anonymous), ("plain", None), ("moderator", None)):
        if client is None:
            client = web.new_client()
            web.sign_in(who, client=client)
        for path in ADMIN_PAGES:
            page = client.get(path, follow_redirects=False)
            assert page.status_code == 404, (who, path)
            assert "Page not found" in page.text
        # A POST with a valid token of the user's own session: 404 too, nothing changes.
        token = csrf_token(client.get("/change-password" if who != "anonymous" else "/login").text)
        for path, fields in (
            (f"/admin/accounts/{plain.id}/roles", {"role": "admin", "grant": "1"}),
            ("/admin/applications/1/active", {"active": "0"}),
        ):
            answer = client.post(path, data={"csrf_token": token, **fields})
            assert answer.status_code == 404, (who, path)
        assert "/admin" not in client.get("/").text  # no link to it either
    assert not _get(web.dbs, plain.id).is_admin
    assert not _get(web.dbs, moderator.id).is_admin


def test_an_admin_sees_the_pages(web: WebHarness, admin: Account) -> None:
    assert 'href="/admin"' in web.client.get("/").text
    for path in ADMIN_PAGES:
        assert web.client.get(path).status_code == 200, path
    assert web.client.head("/admin").status_code == 200


def test_grant_and_revoke_roles(web: WebHarness, admin: Account) -> None:
    other = web.create_account("helper")
    listed = web.client.get("/admin/accounts?q=help").text
    assert "helper" in listed
    assert f'action="/admin/accounts/{other.id}/roles"' in listed
    assert "boss" not in re.sub(r"Signed in as.*?</span>", "", listed, flags=re.S)

    answer = _roles(web, other.id, role="moderator", grant="1", q="help")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == f"/admin/accounts?q=help&changed={other.id}"  # type: ignore[attr-defined]
    assert _get(web.dbs, other.id).is_moderator
    assert (
        f"The roles of account {other.id} were changed"
        in web.client.get(f"/admin/accounts?q=help&changed={other.id}").text
    )

    assert _roles(web, other.id, role="admin", grant="1").status_code == 303  # type: ignore[attr-defined]
    helper = _get(web.dbs, other.id)
    assert (helper.is_admin, helper.is_moderator) == (True, True)
    # The new admin sees /admin at once.
    client = web.new_client()
    web.sign_in("helper", client=client)
    assert client.get("/admin").status_code == 200

    assert _roles(web, other.id, role="admin", grant="0").status_code == 303  # type: ignore[attr-defined]
    assert _roles(web, other.id, role="moderator", grant="0").status_code == 303  # type: ignore[attr-defined]
    helper = _get(web.dbs, other.id)
    assert (helper.is_admin, helper.is_moderator) == (False, False)
    assert client.get("/admin").status_code == 404


def test_role_changes_refused(web: WebHarness, admin: Account) -> None:
    other = web.create_account("target")
    path = f"/admin/accounts/{other.id}/roles"
    # Without the token, or with a wrong one: 403.
    assert web.client.post(path, data={"role": "admin", "grant": "1"}).status_code == 403
    bad = {"csrf_token": "x" * 40, "role": "admin", "grant": "1"}
    assert web.client.post(path, data=bad).status_code == 403
    # Malformed fields: 400.
    for fields in (
        {"role": "root", "grant": "1"},
        {"role": "", "grant": "1"},
        {"role": "admin", "grant": "yes"},
        {"role": "admin"},
        {"role": "admin" * 10, "grant": "1"},
        {"role": "admin", "grant": "1", "q": "q" * 101},
    ):
        answer = _roles(web, other.id, **fields)
        assert answer.status_code == 400, fields  # type: ignore[attr-defined]
        assert "Traceback" not in answer.text  # type: ignore[attr-defined]
    # Unknown accounts, ids no column holds, not a number: 404.
    for account_id in ("999999", "99999999999999999999", "0", "abc", "-1"):
        token = web.token("/admin/accounts")
        answer = web.client.post(
            f"/admin/accounts/{account_id}/roles",
            data={"csrf_token": token, "role": "admin", "grant": "1"},
        )
        assert answer.status_code == 404, account_id
    # Oversized form: 413.
    token = web.token("/admin/accounts")
    huge = {"csrf_token": token, "role": "admin", "grant": "1", "q": "x" * 70_000}
    assert web.client.post(path, data=huge).status_code == 413
    # An admin cannot take the admin role from themselves on the site.
    refused = _roles(web, admin.id, role="admin", grant="0")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "earmark admin revoke" in refused.text  # type: ignore[attr-defined]
    assert _get(web.dbs, admin.id).is_admin
    target = _get(web.dbs, other.id)
    assert (target.is_admin, target.is_moderator) == (False, False)


def test_hostile_names_and_searches_are_text(web: WebHarness, admin: Account) -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    with web.dbs.write() as conns:
        account = accounts.create(conns.app, name=hostile)
        applications.create(conns.app, name=hostile, version="<b>1</b>", account_id=account.id)
    for path in ("/admin/accounts?q=%22%3E%3Cimg", "/admin/applications?q=%22%3E%3Cimg"):
        page = web.client.get(path)
        assert page.status_code == 200
        assert "<img src=x" not in page.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "&lt;b&gt;1&lt;/b&gt;" in web.client.get("/admin/applications").text
    # Search text: LIKE wildcards are plain characters, control characters are refused.
    assert "No account matches" in web.client.get("/admin/accounts?q=%25%25").text
    for path in ("/admin/accounts", "/admin/applications"):
        for text in ("%00", "a%01b", "%7F"):
            refused = web.client.get(f"{path}?q={text}")
            assert refused.status_code == 400, (path, text)
            assert "control characters" in refused.text
    assert web.client.get("/admin/accounts?q=" + "x" * 101).status_code == 400
    assert web.client.get("/admin/applications?q=" + "x" * 101).status_code == 400


def test_monthly_hits_and_misses(web: WebHarness, admin: Account) -> None:
    with web.dbs.write() as conns:
        first = applications.create(conns.app, name="First", version="1", account_id=admin.id)
        second = applications.create(conns.app, name="Second", version="2", account_id=admin.id)
        stats.add_lookup_counts(
            conns.app,
            [
                stats.LookupCount(first.id, dt.date(2024, 2, 1), 0, hits=10, misses=1),
                stats.LookupCount(first.id, dt.date(2024, 2, 29), 23, hits=5, misses=4),
                stats.LookupCount(first.id, dt.date(2024, 3, 1), 0, hits=1000, misses=1000),
                stats.LookupCount(second.id, dt.date(2024, 1, 31), 12, hits=7, misses=0),
                stats.LookupCount(second.id, dt.date(2024, 2, 15), 12, hits=2, misses=3),
            ],
        )
    page = web.client.get("/admin/applications?month=2024-02")
    assert page.status_code == 200
    rows = {
        name: (int(hits), int(misses))
        for name, hits, misses in re.findall(
            r"<td>(\w+) \d.*?<td class=\"num\">([\d,]+)</td>\s*<td class=\"num\">([\d,]+)</td>",
            page.text,
            flags=re.S,
        )
    }
    assert rows == {"First": (15, 5), "Second": (2, 3)}
    assert "February 2024" in page.text
    assert "17 found a track, 8 found none" in page.text
    assert "month=2024-01" in page.text  # the previous month
    assert "month=2024-03" in page.text
    january = web.client.get("/admin/applications?month=2024-01").text
    assert "7 found a track, 0 found none" in january
    for month in ("2024-13", "2024-00", "24-02", "2024-2", "x", "0001-01", "2024-02-01", "%00"):
        refused = web.client.get(f"/admin/applications?month={month}")
        assert refused.status_code == 400, month
        assert "YYYY-MM" in refused.text


@pytest.fixture
def api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    harness = ApiHarness(dbs, tmp_path / "index")
    yield harness
    harness.close()


def _lookup(client: TestClient, key: str) -> object:
    rng = np.random.default_rng(7)
    items = rng.integers(0, 2**32, size=300, dtype=np.uint64).astype(np.uint32)
    fields = {"client": key, "duration": "37", "fingerprint": encode_fingerprint_base64(items)}
    return client.post("/v2/lookup", data=fields).json()


def test_a_deactivated_application_is_refused_by_the_lookup(
    web: WebHarness, admin: Account, api: ApiHarness
) -> None:
    web.services.searcher = api.searcher
    assert _lookup(api.client, api.client_key) == {"status": "ok", "results": []}
    listed = web.client.get("/admin/applications?q=tester").text
    assert f'action="/admin/applications/{api.application_id}/active"' in listed
    token = csrf_token(listed)
    # Without the token: 403, the key still works.
    path = f"/admin/applications/{api.application_id}/active"
    assert web.client.post(path, data={"active": "0"}).status_code == 403
    for fields in ({"active": "maybe"}, {"active": "0", "month": "2024-13"}, {}):
        answer = web.client.post(path, data={"csrf_token": token, **fields})
        assert answer.status_code == 400, fields
    assert _lookup(api.client, api.client_key)["status"] == "ok"  # type: ignore[index]
    answer = web.client.post(
        path,
        data={"csrf_token": token, "active": "0", "q": "tester", "month": "2024-02"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/admin/applications?q=tester&month=2024-02&changed={api.application_id}"
    )
    refused = _lookup(api.client, api.client_key)
    assert refused["status"] == "error"  # type: ignore[index]
    assert refused["error"]["code"] == 4  # type: ignore[index]
    assert "deactivated" in web.client.get("/admin/applications?q=tester").text
    # And back.
    answer = web.client.post(path, data={"csrf_token": token, "active": "1"})
    assert answer.status_code == 200  # followed to the list
    assert _lookup(api.client, api.client_key)["status"] == "ok"  # type: ignore[index]
    unknown = web.client.post(
        "/admin/applications/999999/active", data={"csrf_token": token, "active": "0"}
    )
    assert unknown.status_code == 404


def test_queue_and_index(web: WebHarness, admin: Account, api: ApiHarness) -> None:
    empty = web.client.get("/admin").text
    assert "nothing waits" in empty
    assert "not asked by this process" in empty
    assert "no fingerprint indexed yet" in empty
    rng = np.random.default_rng(3)
    for n in range(3):  # three fingerprints, imported and indexed
        api.add_track(rng.integers(0, 2**31, size=200, dtype=np.int64), 25 + n)
    api.submit(rng.integers(0, 2**31, size=200, dtype=np.int64), 40)  # waits
    failed = api.submit(rng.integers(0, 2**31, size=200, dtype=np.int64), 41)
    with web.dbs.write() as conns:
        submissions.mark_failed(conns.ingest, failed, "test")
    web.services.searcher = api.searcher
    web.services.cache.clear()
    html = web.client.get("/admin").text
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]+)", html))
    assert figures["Waiting for the importer"] == "1"
    assert figures["Failed"] == "1"
    assert figures["Oldest waiting for"].endswith(" s") or "min" in figures["Oldest waiting for"]
    assert figures["Documents"] == "3"
    assert figures["Waiting to be indexed"].strip() == "0"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(fingerprint\s+\d+", html)
    assert '<td>imported</td><td class="num">3</td>' in html
    # An index that cannot be asked is named, not a 500.
    api.engine.close()
    web.services.cache.clear()
    broken = web.client.get("/admin")
    assert broken.status_code == 200
    assert "could not be asked" in broken.text


def test_open_data_imports(web: WebHarness, admin: Account) -> None:
    assert "No open data imported." in web.client.get("/admin").text
    with web.dbs.write() as conns:
        opendata.set_progress(conns.fingerprint, "acoustid-public", ["track"], dt.date(2024, 12, 4))
    web.services.cache.clear()
    html = web.client.get("/admin").text
    assert "<td>acoustid-public</td><td>track</td><td>2024-12-04</td>" in html
