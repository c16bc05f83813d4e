"""Jobs as the store keeps them: written and read by pydantic from the payload types, and the
jobs an earlier release stored (its JSON, kept in ``data/``) still read, whole."""

from __future__ import annotations

import json
from pathlib import Path

from bot.domain import ChatKind, EmbedForm, Outcome, Text, UploadOptions
from bot.payloads import (
    AnswerTarget,
    FileRef,
    FileResult,
    JobResults,
    JobSpec,
    results_of,
    results_to_json,
    spec_of,
    spec_to_json,
)
from bot.texts import render, t
from tests.conftest import ALICE, PRIVATE

RELEASE = Path(__file__).with_name("data") / "jobs_eafa6d0.json"
"""Jobs written by the release of commit eafa6d0, the one before this format."""


def stored() -> list[dict[str, object]]:
    return json.loads(RELEASE.read_text(encoding="utf-8"))


def test_a_spec_goes_to_json_and_back_whole():
    """Every field of a spec, a link and nested options included, comes back equal."""
    spec = JobSpec(
        ALICE,
        PRIVATE,
        "zh",
        (FileRef("a.png", "image/png", 3, "id-1", width=640), FileRef.of_link("https://e.x/a")),
        caption="Harbour\nat dawn",
        options=UploadOptions(title="t", tags=("a", "b"), nsfw=True, category_id=3),
        ephemeral=True,
        answer=AnswerTarget("55", "handle"),
    )
    assert spec_of(spec_to_json(spec)) == spec


def test_results_go_to_json_and_back_with_nested_sentences():
    """A failure's reason holding another sentence, and the files that reached the host."""
    reason = t("error.invalid_argument", usage=t("upload.usage"))
    results = JobResults(
        {2: FileResult("b.png", Outcome.FAILED, reason=reason)}, True, "901", frozenset({2})
    )
    again = results_of(results_to_json(results))
    assert again == results
    assert again.files[2].reason is not None
    assert render(again.files[2].reason, "en") == render(reason, "en")


def test_every_job_the_release_stored_is_read():
    """Each spec and result set of the release before this format reads into today's types."""
    for job in stored():
        spec = spec_of(json.dumps(job["spec"]))
        assert spec.items
        if job["results"] is not None:
            results_of(json.dumps(job["results"]))


def test_a_stored_spec_keeps_who_where_and_what():
    """The release's flat user and chat fields, its options and its files, read as they were."""
    first, second, third = stored()
    spec = spec_of(json.dumps(first["spec"]))
    assert (spec.user, spec.chat) == (ALICE, PRIVATE)
    assert spec.items == (
        FileRef("photo_AQAD.jpg", "image/jpeg", 12345, "AgACAgIAAxkBAAIB", width=1280),
    )
    assert spec.caption == "Harbour\nat dawn #sea"
    assert spec.answer == AnswerTarget(reply_to="55")
    linked = spec_of(json.dumps(second["spec"]))
    assert linked.items[0].link
    assert linked.options == UploadOptions(
        title="t",
        tags=("a", "b"),
        nsfw=True,
        expiration="P1D",
        album_id="4c",
        category_id=3,
        width=800,
    )
    guild = spec_of(json.dumps(third["spec"]))
    assert (guild.chat.kind, guild.chat.community, guild.ephemeral) == (
        ChatKind.CHANNEL,
        "777",
        True,
    )
    assert guild.answer == AnswerTarget(None, "interaction:abc:123")


def test_stored_results_keep_each_file_and_the_status():
    """The release's results: an upload's record (its user in flat fields), sentences with
    parameters, a duplicate, a failure that passes, the status message, the public answer."""
    results = results_of(json.dumps(stored()[2]["results"]))
    assert (results.public_sent, results.status, results.reached) == (True, "902", frozenset())
    uploaded = results.files[0]
    assert uploaded.upload is not None
    assert uploaded.upload.user.platform == "telegram"
    assert uploaded.upload.delete_url is not None
    assert (uploaded.size, uploaded.form) == (5_000_000, EmbedForm.BBCODE)
    assert uploaded.note == Text("upload.width_dropped", {"width": 640})
    assert results.files[1].reason == Text("error.host_too_large", {"limit": 10})
    assert results.files[2].outcome is Outcome.DUPLICATE
    assert results.files[3].transient
    assert set(results.settled()) == {0, 1, 2}
