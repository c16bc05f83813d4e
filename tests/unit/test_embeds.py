"""/format: what answers carry besides the links, exactly as Chevereto's own uploader gives it."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import EmbedForm, UploadRecord, Visibility
from bot.jobs.embeds import embed_code
from bot.texts import code, code_spans, render, render_marked, t
from tests.conftest import ALICE, GROUP, KEY, PRIVATE, ctx
from tests.support.job_handler import RecordingHandler
from tests.support.jobs import running
from tests.unit.test_jobs import spec, text

VIEWER = "https://img.example/image/AbC"
FILE = "https://img.example/images/2026/12/02/cat.png"


def record(title: str | None = "A cat", url: str | None = FILE) -> UploadRecord:
    return UploadRecord(
        id=1,
        user=ALICE,
        filename="cat.png",
        url_viewer=VIEWER,
        url_short="https://img.example/AbC",
        delete_url="https://img.example/image/AbC/delete/secret",
        expires_at=None,
        created_at=datetime.now(UTC),
        url=url,
        title=title,
    )


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (EmbedForm.DIRECT, FILE),
        (EmbedForm.MARKDOWN, f"[![A cat]({FILE})]({VIEWER})"),
        (EmbedForm.BBCODE, f"[url={VIEWER}][img]{FILE}[/img][/url]"),
        (EmbedForm.HTML, f'<a href="{VIEWER}"><img src="{FILE}" alt="A cat"></a>'),
    ],
)
def test_each_form_is_the_host_s_full_linked_code(form, expected):
    """Each form as SPEC gives it, byte for byte."""
    assert embed_code(record(), form) == expected


def test_links_adds_nothing_and_a_file_link_held_back_gives_no_code():
    """The default form adds nothing; an image awaiting moderation has no file link to embed."""
    assert embed_code(record(), EmbedForm.LINKS) is None
    assert embed_code(record(url=None), EmbedForm.BBCODE) is None


def test_without_a_viewer_link_only_the_direct_link_is_given():
    """When the host gave no usable viewer link, the linked forms are left out; the file link
    alone is still given."""
    viewerless = replace(record(), url_viewer=None, url_short=None)
    assert embed_code(viewerless, EmbedForm.DIRECT) == FILE
    assert embed_code(viewerless, EmbedForm.MARKDOWN) is None


def test_a_title_cannot_break_out_of_its_code():
    """Quotes and angle brackets are escaped in HTML, brackets in Markdown; no title falls back
    to the file name."""
    html = embed_code(record(title='"><script>x</script>'), EmbedForm.HTML)
    assert html is not None
    assert "<script>" not in html
    assert 'alt="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    markdown = embed_code(record(title="a] (b) [c"), EmbedForm.MARKDOWN)
    assert markdown == f"[![a\\] (b) \\[c]({FILE})]({VIEWER})"
    assert embed_code(record(title=None), EmbedForm.MARKDOWN) == f"[![cat.png]({FILE})]({VIEWER})"


def test_a_code_span_renders_plain_and_is_found_in_a_marked_rendering():
    """Plain rendering shows the code as it is; the marked one tells where it stands."""
    reply = t("lines", lines=[t("upload.expires", when="x"), code("[b]猫🐱[/b]"), code("z")])
    plain = render(reply, "en")
    assert "\x02" not in plain
    assert "\x03" not in plain
    shown, spans = code_spans(render_marked(reply, "en"))
    assert shown == plain
    assert [shown[a:b] for a, b in spans] == ["[b]猫🐱[/b]", "z"]


async def test_format_is_stored_shown_in_settings_and_garbage_changes_nothing(commands, store):
    """/format bbcode is kept per user and shown by /settings; an unknown form gets the usage
    sentence and leaves the choice as it was."""
    assert "BBCode" in render((await commands.format(ctx(), " BBCode ")).text, "en")
    assert (await store.prefs.of(ALICE)).embed_form is EmbedForm.BBCODE
    assert "a BBCode embed code" in render((await commands.settings(ctx())).text, "en")
    refused = render((await commands.format(ctx(), "gif")).text, "en")
    assert refused.startswith("Send /format with one of")
    assert (await store.prefs.of(ALICE)).embed_form is EmbedForm.BBCODE


@pytest.mark.parametrize("chat", [PRIVATE, GROUP], ids=["private", "group"])
async def test_answers_carry_the_chosen_code_once_per_file(runner, store, chevereto, chat):
    """With /format markdown, each uploaded file of the answer carries its own Markdown code,
    as a code span; in a group the public answer carries it too."""
    await store.keys.link(ALICE, KEY)
    await store.prefs.set_embed_form(ALICE, EmbedForm.MARKDOWN)
    handler = RecordingHandler({"a.png": probe_png(), "b.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", "b.png", chat=chat))
        replies = await handler.wait_for_replies(1 if chat is PRIVATE else 2)
    public = next(r for r in replies if r.visibility is not Visibility.PRIVATE_TO_USER)
    shown, spans = code_spans(render_marked(public.text, "en"))
    codes = sorted(shown[a:b] for a, b in spans)
    assert len(chevereto.images) == 2
    expected = sorted(
        f"[![{image.filename.rsplit('.', 1)[0]}]({chevereto.url}/images/{image.id}.png)]"
        f"({chevereto.url}/image/{image.id})"
        for image in chevereto.images.values()
    )
    assert codes == expected
    assert text(public).count("[![") == 2
