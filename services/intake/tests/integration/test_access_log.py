"""Protocollering on the real store: every look at a citizen's timeline is logged with who,
when, which citizen (pseudonymised and masked) and why; only ops reads the log."""

from datetime import UTC, datetime

import pytest

from kcc_shared.testing import client_auth, credentials, TestAuth, unique

pytestmark = pytest.mark.integration


async def test_a_timeline_look_needs_a_reason_is_logged_and_only_ops_reads_the_log(intake):
    email = f"{unique('inwoner')}@example.nl"
    posted = await intake.post("/v1/channels/web/submissions", json={
        "form_id": "contactformulier", "submission_id": unique("web"), "subject": "Afval",
        "message": "Wanneer wordt het grofvuil opgehaald?", "submitted_at": datetime.now(UTC).isoformat(), "email": email,
    })
    assert posted.status_code == 202, posted.text
    viewer = unique("agent")
    as_agent = TestAuth(credentials().token(["agent"], subject=viewer))

    no_reason = await intake.get("/v1/citizens/timeline", params={"email": email}, auth=as_agent)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    blank = await intake.get("/v1/citizens/timeline", params={"email": email, "reason": "    "}, auth=as_agent)
    assert blank.status_code == 422 and "reason" in blank.text

    seen = await intake.get("/v1/citizens/timeline", params={"email": email, "reason": "vraag over grofvuil"}, auth=as_agent)
    assert seen.status_code == 200, seen.text
    assert seen.json()["total"] == 1

    log = await intake.get("/v1/access-log", params={"email": email}, auth=client_auth(["ops"]))
    assert log.status_code == 200, log.text
    [entry] = log.json()["items"]
    assert (entry["viewer"], entry["roles"], entry["reason"], entry["contacts_shown"]) == (viewer, ["agent"], "vraag over grofvuil", 1)
    assert entry["citizen_shown"] == {"email": f"{email[0]}***@example.nl"}
    assert email not in log.text  # the log names the citizen by pseudonym and mask only
    by_viewer = await intake.get("/v1/access-log", params={"viewer": viewer}, auth=client_auth(["ops"]))
    assert [e["view_id"] for e in by_viewer.json()["items"]] == [entry["view_id"]]

    assert (await intake.get("/v1/access-log", params={"email": email}, auth=as_agent)).status_code == 403
    bad = await intake.get("/v1/access-log", params={"bsn": "123456789"}, auth=client_auth(["ops"]))
    assert bad.status_code == 422 and "11-proef" in bad.text
