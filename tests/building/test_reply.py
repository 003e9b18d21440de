"""The reply protocol: the file is the lines between <artifact> and the last </artifact>."""
from __future__ import annotations

from cfs_build.building.reply import parse_reply, unfence


def test_file_is_exactly_the_lines_between_the_tags():
    reply = parse_reply("Here it is.\n<artifact>\nline 1\n\n  indented\n</artifact>\nDone.\n")
    assert reply.artifact == "line 1\n\n  indented\n"
    assert reply.findings is None and reply.problem is None


def test_closing_tag_inside_the_file_is_content_up_to_the_last_one():
    text = ("<artifact>\nHTML = '''\n</artifact>\n'''\nend = 1\n</artifact>\n"
            "Note: the file mentions </artifact>.\n")
    assert parse_reply(text).artifact == "HTML = '''\n</artifact>\n'''\nend = 1\n"


def test_a_second_opening_tag_inside_the_file_is_content():
    text = "<artifact>\n<artifact>\nx\n</artifact>\n"
    assert parse_reply(text).artifact == "<artifact>\nx\n"


def test_tags_must_be_lines_of_their_own():
    reply = parse_reply("Use <artifact>x</artifact> tags.\n<artifact>\nbody\n</artifact>")
    assert reply.artifact == "body\n"


def test_crlf_reply_gives_lf_content():
    reply = parse_reply("Intro\r\n<artifact>\r\na\r\nb\r\n</artifact>\r\n")
    assert reply.artifact == "a\nb\n"


def test_lone_cr_inside_the_file_is_kept():
    assert parse_reply("<artifact>\na\rb\n</artifact>\n").artifact == "a\rb\n"


def test_empty_artifact_is_an_empty_file():
    reply = parse_reply("<artifact>\n</artifact>\n")
    assert reply.artifact == ""
    assert reply.problem is None


def test_artifact_of_one_blank_line():
    assert parse_reply("<artifact>\n\n</artifact>\n").artifact == "\n"


def test_findings_without_assumptions():
    reply = parse_reply("Cannot do it.\n<findings>\nWhich currency?\n</findings>\n")
    assert reply.findings == "Which currency?"
    assert reply.assumptions is None and reply.artifact is None and reply.problem is None


def test_findings_with_assumptions():
    reply = parse_reply("<findings>\nA\nB\n</findings>\n<assumptions>\nEUR\n</assumptions>\n")
    assert (reply.findings, reply.assumptions) == ("A\nB", "EUR")


def test_empty_findings_still_count_as_findings():
    reply = parse_reply("<findings>\n</findings>")
    assert reply.findings and reply.artifact is None


def test_crlf_findings_and_assumptions_carry_no_cr():
    reply = parse_reply("<findings>\r\nWhich currency?\r\n</findings>\r\n"
                        "<assumptions>\r\nEUR\r\n</assumptions>\r\n")
    assert (reply.findings, reply.assumptions) == ("Which currency?", "EUR")


def test_artifact_with_assumptions_after_it():
    reply = parse_reply("<artifact>\nx = 1\n</artifact>\n<assumptions>\nints\n</assumptions>\n")
    assert (reply.artifact, reply.assumptions) == ("x = 1\n", "ints")


def test_findings_tags_inside_the_file_are_content():
    # A generated file may itself speak the protocol (a parser for replies, say).
    body = "PATTERN = r'<findings>(.*?)</findings>'\n"
    reply = parse_reply(f"<artifact>\n{body}</artifact>\n")
    assert reply.findings is None
    assert reply.artifact == body


def test_assumptions_tags_inside_the_file_are_content():
    body = "<assumptions>\nnot mine\n</assumptions>\n"
    reply = parse_reply(f"<artifact>\n{body}</artifact>\n<assumptions>\nmine\n</assumptions>\n")
    assert reply.artifact == body
    assert reply.assumptions == "mine"


def test_findings_before_an_artifact_line_win():
    reply = parse_reply("<findings>\nI would write:\n<artifact>\nx\n</findings>\n")
    assert reply.findings == "I would write:\n<artifact>\nx"
    assert reply.problem is None


def test_no_artifact_and_no_findings_is_a_problem():
    reply = parse_reply("I am not sure what to do.\n<assumptions>\nnone\n</assumptions>\n")
    assert reply.artifact is None and reply.findings is None
    assert "no <artifact>" in reply.problem
    assert reply.assumptions == "none"


def test_empty_reply_is_a_problem():
    assert parse_reply("").problem


def test_unclosed_artifact_is_a_cut_off_problem():
    reply = parse_reply("<artifact>\nline 1\nline 2")
    assert reply.artifact is None
    assert "cut off" in reply.problem


def test_closing_tag_before_the_opening_line_does_not_close_it():
    reply = parse_reply("</artifact>\n<artifact>\nx\n")
    assert reply.artifact is None and reply.problem


def test_two_artifact_blocks_are_a_problem_not_one_file():
    reply = parse_reply("<artifact>\na\n</artifact>\nand the test:\n<artifact>\nb\n</artifact>\n")
    assert reply.artifact is None and "more than one <artifact> block" in reply.problem


def test_artifact_tags_quoted_in_a_fence_inside_the_file_are_content():
    text = "<artifact>\n```\n<artifact>\nx\n</artifact>\n<artifact>\n```\n</artifact>\n"
    assert parse_reply(text).artifact == "```\n<artifact>\nx\n</artifact>\n<artifact>\n```\n"


def test_a_fence_around_the_whole_file_is_taken_off_with_a_note():
    text, note = unfence("```python\nx = 1\n\ny = 2\n```\n", "src/a.py")
    assert text == "x = 1\n\ny = 2\n"
    assert note == "the generator wrapped the file in a ``` fence; it was removed"
    assert unfence("~~~~\n```\nx\n```\n~~~~\n", "a.txt")[0] == "```\nx\n```\n"


def test_markdown_outputs_and_partial_fences_are_kept():
    fenced = "```python\nx = 1\n```\n"
    assert unfence(fenced, "docs/a.md") == (fenced, None)
    assert unfence(fenced, "README.MARKDOWN") == (fenced, None)
    two_blocks = "```\na\n```\ntext\n```\nb\n```\n"
    assert unfence(two_blocks, "a.txt") == (two_blocks, None)
    assert unfence("x\n```\ny\n```\n", "a.py") == ("x\n```\ny\n```\n", None)
    assert unfence("```\n", "a.py") == ("```\n", None)
