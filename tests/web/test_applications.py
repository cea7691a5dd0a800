"""The application pages in process, on SQLite and PostgreSQL: register, list, show, edit,
deactivate; who may see them; validation and hostile input; the lookup counts the cron drains."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from starlette.testclient import TestClient

from earmark.counters import CounterBackends, MemoryCounters, MemoryMissingMbids
from earmark.cron.jobs import CronConfig, CronJobs
from earmark.db import accounts, applications
from earmark.db.accounts import Account
from earmark.db.applications import Application
from earmark.web.pages.applications import parse_id, website_problem
from tests.web.harness import WebHarness

HOSTILE = '"><img src=x onerror=alert(1)>'
ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
VALID = {
    "name": "Tagger",
    "version": "2.1",
    "email": "dev@example.org",
    "website": "https://tagger.example.org/",
}


def _post(web: WebHarness, path: str, data: dict[str, str], client: TestClient | None = None):  # type: ignore[no-untyped-def]
    client = client or web.client
    token = web.token("/my-applications", client)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def _register(web: WebHarness, **fields: str) -> Application:
    answer = _post(web, "/new-application", {**VALID, **fields})
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/application/(\d+)\?done=created", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return _get(web, int(found.group(1)))


def _get(web: WebHarness, app_id: int) -> Application:
    with web.dbs.read() as conns:
        app = applications.get(conns.app, app_id)
    assert app is not None
    return app


def _all(web: WebHarness) -> list[Application]:
    with web.dbs.read() as conns:
        return applications.list_all(conns.app)


def _signed_in(web: WebHarness, login: str) -> Account:
    account = web.create_account(login)
    web.sign_in(login)
    return account


def test_register_see_the_key_and_list(web: WebHarness) -> None:
    alice = _signed_in(web, "alice")
    empty = web.client.get("/my-applications")
    assert empty.status_code == 200
    assert "You have no applications yet." in empty.text
    assert web.client.get("/new-application").status_code == 200

    app = _register(web)
    assert (app.name, app.version, app.email, app.website) == tuple(VALID.values())
    assert app.account_id == alice.id
    assert app.active
    shown = web.client.get(f"/application/{app.id}?done=created")
    assert shown.status_code == 200
    assert f'<code id="application-key">{app.apikey}</code>' in shown.text
    assert "its API key works now" in shown.text
    assert 'href="https://tagger.example.org/"' in shown.text
    listed = web.client.get("/my-applications").text
    assert f'href="/application/{app.id}">Tagger</a>' in listed
    assert app.apikey in listed
    assert "active" in listed
    # Optional website: left out is stored as nothing.
    bare = _register(web, name="Bare", website="")
    assert bare.website is None
    assert "—" in web.client.get(f"/application/{bare.id}").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "The name is required."),
        ("name", "   ", "The name is required."),
        ("name", "n" * 101, "at most 100 characters (this one has 101)"),
        ("name", "tab\there", "may not contain control characters"),
        ("version", "", "The version is required."),
        ("version", "1" * 51, "at most 50 characters"),
        ("email", "", "The email address is required"),
        ("email", "not-an-address", "does not look like one"),
        ("email", "a@b@c", "does not look like one"),
        ("email", "x" * 250 + "@a.org", "does not look like one"),
        ("website", "javascript:alert(1)", "must be an http:// or https:// address"),
        ("website", "ftp://files.example.org/", "must be an http:// or https:// address"),
        ("website", "https://", "must be an http:// or https:// address"),
        ("website", "example.org", "must be an http:// or https:// address"),
        ("website", "https://exa mple.org/", "may not contain spaces"),
        ("website", "http://[::1", "not a valid URL"),
        ("website", "http://example.org:99999/", "not a valid URL"),
        ("website", "https://example.org/" + "p" * 500, "at most 500 characters"),
    ],
)
def test_bad_fields_are_shown_in_the_form_with_the_values_kept(
    web: WebHarness, field: str, value: str, message: str
) -> None:
    _signed_in(web, "vera")
    sent = {**VALID, field: value}
    answer = _post(web, "/new-application", sent)
    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    assert f'aria-describedby="{field}-problem"' in answer.text
    for name, kept in sent.items():
        if kept.strip():
            assert f'value="{html.escape(kept.strip(), quote=True)}"' in answer.text, name
    assert _all(web) == []


def test_several_problems_at_once_and_absurd_sizes(web: WebHarness) -> None:
    _signed_in(web, "walt")
    answer = _post(
        web, "/new-application", {"name": "", "version": "", "email": "", "website": "x"}
    )
    assert answer.status_code == 400
    assert "The form has 4 problems" in answer.text
    # Beyond any typing mistake: the 400 page; beyond the form limit: 413.
    huge = _post(web, "/new-application", {**VALID, "name": "n" * 3000})
    assert huge.status_code == 400
    assert "too long" in huge.text
    oversized = _post(
        web, "/new-application", {**VALID, "website": "x" * (web.config.form_max_bytes + 1)}
    )
    assert oversized.status_code == 413
    missing_token = web.client.post("/new-application", data=VALID)
    assert missing_token.status_code == 403
    assert _all(web) == []


def test_edit_validates_and_saves(web: WebHarness) -> None:
    _signed_in(web, "erin")
    app = _register(web)
    form = web.client.get(f"/application/{app.id}/edit")
    assert form.status_code == 200
    assert 'value="Tagger"' in form.text
    assert 'value="dev@example.org"' in form.text

    bad = _post(web, f"/application/{app.id}/edit", {**VALID, "name": "Renamed", "email": "nope"})
    assert bad.status_code == 400
    assert 'value="Renamed"' in bad.text
    assert "does not look like one" in bad.text
    assert _get(web, app.id) == app

    changed = {"name": "Renamed", "version": "3.0", "email": "new@example.org", "website": ""}
    saved = _post(web, f"/application/{app.id}/edit", changed)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/application/{app.id}?done=saved"
    after = _get(web, app.id)
    assert (after.name, after.version, after.email, after.website) == (
        "Renamed",
        "3.0",
        "new@example.org",
        None,
    )
    assert after.apikey == app.apikey
    assert "The changes are saved." in web.client.get(saved.headers["location"]).text


def test_deactivate_and_activate_ask_first(web: WebHarness) -> None:
    _signed_in(web, "dora")
    app = _register(web)
    asked = _post(web, f"/application/{app.id}/deactivate", {})
    assert asked.status_code == 200
    assert "Deactivate Tagger?" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert _get(web, app.id).active
    no_token = web.client.post(f"/application/{app.id}/deactivate", data={"confirm": "yes"})
    assert no_token.status_code == 403
    assert _get(web, app.id).active
    # A GET changes nothing (there is no such page).
    assert web.client.get(f"/application/{app.id}/deactivate").status_code == 405

    done = _post(web, f"/application/{app.id}/deactivate", {"confirm": "yes"})
    assert done.status_code == 303
    assert not _get(web, app.id).active
    page = web.client.get(done.headers["location"]).text
    assert "the web service refuses its key" in page
    assert "deactivated" in web.client.get("/my-applications").text

    assert "Activate Tagger?" in _post(web, f"/application/{app.id}/activate", {}).text
    assert not _get(web, app.id).active
    assert _post(web, f"/application/{app.id}/activate", {"confirm": "yes"}).status_code == 303
    assert _get(web, app.id).active


BAD_IDS = ["abc", "0", "-1", "01", "1.0", "1e3", "%201", "2147483648", "99999999999999999999"]


def test_others_unknown_and_malformed_ids_get_404(web: WebHarness) -> None:
    _signed_in(web, "owner")
    app = _register(web)
    other = web.new_client()
    web.create_account("mallory")
    web.sign_in("mallory", client=other)
    paths = [f"/application/{app.id}", f"/application/{app.id}/edit"]
    for path in paths:
        assert other.get(path).status_code == 404, path
    for action in ("edit", "deactivate", "activate"):
        answer = _post(web, f"/application/{app.id}/{action}", {**VALID, "confirm": "yes"}, other)
        assert answer.status_code == 404, action
        assert "not yours to see" in answer.text
    assert _get(web, app.id) == app
    assert app.apikey not in other.get("/my-applications").text
    for raw in [str(app.id + 1000), *BAD_IDS]:
        for suffix in ("", "/edit"):
            assert web.client.get(f"/application/{raw}{suffix}").status_code == 404, raw
        assert _post(web, f"/application/{raw}/deactivate", {"confirm": "yes"}).status_code == 404
    # A visitor signs in first, and comes back.
    visitor = web.new_client()
    for path in ["/my-applications", "/new-application", paths[0]]:
        answer = visitor.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?return_url=")


def test_an_admin_sees_and_manages_any_application(web: WebHarness) -> None:
    _signed_in(web, "carol")
    app = _register(web)
    root = web.create_account("root")
    with web.dbs.write() as conns:
        accounts.set_roles(conns.app, root.id, is_admin=True)
    admin = web.new_client()
    web.sign_in("root", client=admin)
    page = admin.get(f"/application/{app.id}")
    assert page.status_code == 200
    assert app.apikey in page.text
    assert "carol (you see it as an administrator)" in page.text
    assert (
        _post(web, f"/application/{app.id}/deactivate", {"confirm": "yes"}, admin).status_code
        == 303
    )
    assert not _get(web, app.id).active
    # Not the admin's own: it is not in the admin's list.
    assert app.apikey not in admin.get("/my-applications").text


def test_lookups_drained_by_the_cron_appear_on_the_pages(web: WebHarness) -> None:
    _signed_in(web, "lou")
    app = _register(web)
    other = _register(web, name="Other")
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    backends = CounterBackends(MemoryCounters(), MemoryMissingMbids())
    counted = [
        (now, True, 5),
        (now, False, 2),
        (now - dt.timedelta(days=3), True, 7),
        (now - dt.timedelta(days=45), True, 11),  # outside the chart, inside the months
        (now - dt.timedelta(days=500), False, 13),  # outside both
    ]
    for at, hit, count in counted:
        backends.counters.count_lookup(app.id, hit=hit, at=at, count=count)
    backends.counters.count_lookup(other.id, hit=True, at=now, count=1000)
    report = CronJobs(web.dbs, backends, None, CronConfig()).drain_lookups()
    assert "0 counts dropped" in report

    page = web.client.get(f"/application/{app.id}").text
    window = [c for at, _h, c in counted if (today - at.date()).days < 30]
    assert f'<strong id="window-total">{sum(window)}</strong>' in page
    hits = sum(c for at, h, c in counted if h and (today - at.date()).days < 30)
    assert f"{hits} with results and {sum(window) - hits} without" in page
    # The chart: its title, and a summary printing the 30 days' total.
    assert "Lookups per day: Tagger" in page
    assert f"total {sum(window)}" in page
    # Monthly totals: every month of the last twelve that has lookups, newest first.
    months: dict[str, list[int]] = {}
    first = dt.date(today.year - 1 + (today.month == 12), today.month % 12 + 1, 1)
    for at, hit, count in counted:
        if at.date() >= first:
            slot = months.setdefault(at.strftime("%B %Y"), [0, 0])
            slot[0 if hit else 1] += count
    rows = re.findall(
        r"<tr><td>([A-Za-z]+ \d{4})</td><td class=\"number\">([\d,]+)</td>"
        r"<td class=\"number\">([\d,]+)</td><td class=\"number\">([\d,]+)</td></tr>",
        page,
    )
    assert [(m, int(h), int(n)) for m, h, n, _t in rows] == [
        (m, h, n)
        for m, (h, n) in sorted(months.items(), key=lambda kv: _month(kv[0]), reverse=True)
    ]
    this_month = sum(c for at, _h, c in counted if at.date() >= today.replace(day=1))
    listed = web.client.get("/my-applications").text
    assert re.search(
        rf'href="/application/{app.id}">Tagger</a>.*?<td class="number">{this_month:,}</td>',
        listed,
        re.S,
    )
    assert re.search(rf'href="/application/{other.id}">Other</a>.*?>1,000</td>', listed, re.S)


def _month(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%B %Y").date()


def test_monthly_lookups_group_by_calendar_month(web: WebHarness) -> None:
    account = web.create_account("mona")
    backends = CounterBackends(MemoryCounters(), MemoryMissingMbids())
    with web.dbs.write() as conns:
        app = applications.create(conns.app, name="M", version="1", account_id=account.id)
    for day, hits in [
        ((2023, 12, 31), 1),
        ((2024, 1, 1), 2),
        ((2024, 1, 31), 4),
        ((2024, 2, 1), 8),
    ]:
        at = dt.datetime(*day, 23, tzinfo=dt.UTC)
        backends.counters.count_lookup(app.id, hit=True, at=at, count=hits)
    backends.counters.count_lookup(app.id, hit=False, at=dt.datetime(2024, 1, 15, tzinfo=dt.UTC))
    CronJobs(web.dbs, backends, None, CronConfig()).drain_lookups()
    with web.dbs.read() as conns:
        months = applications.monthly_lookups(conns.app, app.id, dt.date(2024, 1, 1))
        totals = applications.lookup_totals_since(conns.app, [app.id, 999], dt.date(2024, 1, 31))
    assert [(m.month, m.totals.hits, m.totals.misses) for m in months] == [
        (dt.date(2024, 2, 1), 8, 0),
        (dt.date(2024, 1, 1), 6, 1),
    ]
    assert totals == {app.id: applications.LookupTotals(12, 0)}


def test_hostile_application_name_is_text_everywhere(web: WebHarness) -> None:
    _signed_in(web, "hank")
    app = _register(web, name=HOSTILE, version=HOSTILE)
    assert app.name == HOSTILE
    pages = [
        web.client.get("/my-applications").text,
        web.client.get(f"/application/{app.id}").text,
        web.client.get(f"/application/{app.id}/edit").text,
        _post(web, f"/application/{app.id}/deactivate", {}).text,
        _post(web, f"/application/{app.id}/edit", {**VALID, "name": HOSTILE, "email": "x"}).text,
    ]
    for page in pages:
        assert HOSTILE not in page
        assert "<img" not in page
        assert ESCAPED in page or html.escape(HOSTILE) in page
    # The chart's SVG title is escaped by the chart itself.
    assert "Lookups per day: &quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[1]


def test_a_website_stored_without_checks_is_not_a_link(web: WebHarness) -> None:
    account = _signed_in(web, "olga")
    with web.dbs.write() as conns:
        app = applications.create(
            conns.app, name="Old", version="1", account_id=account.id, website="javascript:x()"
        )
    page = web.client.get(f"/application/{app.id}").text
    assert "javascript:x()" in page
    assert 'href="javascript' not in page


def test_parse_id_and_website_rules() -> None:
    assert [parse_id(s) for s in ["1", "42", "2147483647"]] == [1, 42, 2147483647]
    assert [parse_id(s) for s in BAD_IDS] == [None] * len(BAD_IDS)
    assert parse_id("١٢") is None  # digits of other scripts are not ids
    for good in ["http://example.org", "https://example.org:8443/p?q=1#f", "HTTPS://EXAMPLE.ORG"]:
        assert website_problem(good) is None, good
    for bad in ["http:/example.org", "mailto:a@b.org", "//example.org", "https://\x00x.org"]:
        assert website_problem(bad) is not None, bad
