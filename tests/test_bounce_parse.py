"""Bounce parsing on hand-written messages of each mail-system family, the classification table,
and `mailer bounces parse` as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import mailer.bounces.parse as parse_module
from mailer.bounces import BounceReport, classify, parse_message
from mailer.bounces.codes import status_from_text
from mailer.bounces.model import KINDS, REASONS
from tests.bounce_samples import NOT_BOUNCES, SAMPLES, message

# name → (recipient, kind, status, action, reason, source)
EXPECTED: dict[str, tuple[str, str, str, str, str, str]] = {
    "postfix-dsn": ("jan@example.be", "hard", "5.1.1", "failed", "user unknown", "dsn"),
    "postfix-text": ("sophie@example.fr", "soft", "5.2.2", "failed", "mailbox full", "heuristic"),
    "exim": ("piet@example.nl", "hard", "5.1.1", "failed", "user unknown", "heuristic"),
    "exim-delay": ("marie@example.fr", "soft", "4.2.2", "delayed", "mailbox full", "heuristic"),
    "sendmail": ("luc@example.com", "hard", "5.1.1", "failed", "user unknown", "heuristic"),
    "qmail": ("anne@example.com", "hard", "5.1.1", "failed", "user unknown", "heuristic"),
    "exchange": ("bob@contoso.example", "hard", "5.1.10", "failed", "user unknown", "heuristic"),
    "outlook-dsn": ("lea@outlook.example", "soft", "5.5.0", "failed", "other", "dsn"),
    "gmail-dsn": ("nobody@gmail.example", "hard", "5.1.1", "failed", "user unknown", "dsn"),
    "gmail-text": ("ghost@gmail.example", "hard", "5.1.1", "failed", "user unknown", "heuristic"),
    "yahoo": ("tom@yahoo.example", "hard", "5.0.0", "failed", "user unknown", "heuristic"),
    "ses": ("eva@example.com", "soft", "5.7.1", "failed", "spam/content filtered", "dsn"),
    "arf": ("claire@yahoo.example", "complaint", "", "", "spam/content filtered", "arf"),
    "arf-redacted": ("", "complaint", "", "", "spam/content filtered", "arf"),
}  # fmt: skip


def _fields(report: BounceReport) -> tuple[str, str, str, str, str, str]:
    return (report.recipient, report.kind, report.status, report.action, report.reason,
            report.source)  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_family_gives_its_recipient_and_verdict(name: str) -> None:
    reports = parse_message(SAMPLES[name])
    assert [_fields(r) for r in reports] == [EXPECTED[name]]
    report = reports[0]
    # what the lead needs to match the bounce to its delivery
    assert report.original_message_id == "<c7.s42@news.example.org>"
    assert report.original_header("return-path") == "<bounces+d42.abc@news.example.org>"
    assert report.diagnostic
    assert len(report.diagnostic) <= 1000
    assert "  " not in report.diagnostic
    assert "\n" not in report.diagnostic


@pytest.mark.parametrize(
    "name", ["postfix-text", "exim", "exim-delay", "sendmail", "qmail", "exchange", "gmail-text",
             "yahoo"],
)  # fmt: skip
def test_our_heuristics_alone_find_the_text_families(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flufl.bounce finds most of these first; our own layer must not depend on it."""
    monkeypatch.setattr(parse_module, "flufl_failures", lambda msg: ([], []))
    assert [_fields(r) for r in parse_message(SAMPLES[name])] == [EXPECTED[name]]


@pytest.mark.parametrize("name", sorted(NOT_BOUNCES))
def test_what_is_not_a_bounce_gives_nothing(name: str) -> None:
    assert parse_message(NOT_BOUNCES[name]) == []


def test_the_diagnostic_keeps_the_remote_servers_words() -> None:
    [report] = parse_message(SAMPLES["postfix-dsn"])
    assert report.diagnostic == (
        "550 5.1.1 <jan@example.be>: Recipient address rejected: User unknown in virtual "
        "mailbox table"
    )


# ---------------------------------------------------------------- DSN details


def _dsn(recipients: str) -> bytes:
    return message(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Delivery Status Notification\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\n',
        f"--B\nContent-Type: text/plain\n\nReport.\n--B\nContent-Type: message/delivery-status\n"
        f"\nReporting-MTA: dns; mx.example.net\n\n{recipients}\n--B--\n",
    )


def test_a_dsn_with_several_recipients_reports_only_the_failures() -> None:
    raw = _dsn(
        "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; b@example.org\nAction: delivered\nStatus: 2.0.0\n\n"
        "Final-Recipient: rfc822; c@example.org\nAction: delayed\nStatus: 4.4.1\n"
        "Diagnostic-Code: smtp; 421 4.4.1 Connection timed out\n"
    )
    assert [(r.recipient, r.kind, r.status, r.action, r.reason) for r in parse_message(raw)] == [
        ("a@example.org", "hard", "5.1.1", "failed", "user unknown"),
        ("c@example.org", "soft", "4.4.1", "delayed", "network/system error"),
    ]


@pytest.mark.parametrize(
    ("diagnostic", "status", "kind"),
    [
        ("smtp; 550 5.1.1 <x@example.org>: user unknown", "5.1.1", "hard"),
        ("smtp; 550 No such user here", "5.0.0", "hard"),
        ("smtp; 452 Mailbox full, try later", "4.0.0", "soft"),
        ("X-Unix; no code at all", "5.0.0", "soft"),
    ],
)
def test_a_missing_status_comes_from_the_diagnostic_code(
    diagnostic: str, status: str, kind: str
) -> None:
    action = "delayed" if status.startswith("4") else "failed"
    raw = _dsn(f"Final-Recipient: rfc822;<x@example.org>\nAction: {action}\n"
               f"Diagnostic-Code: {diagnostic}\n")  # fmt: skip
    [report] = parse_message(raw)
    assert (report.recipient, report.status, report.kind) == ("x@example.org", status, kind)


def test_a_generic_status_is_refined_by_the_diagnostic_code() -> None:
    """Exim writes Status: 5.0.0 whatever happened; the reply's own code says more."""
    raw = _dsn("Final-Recipient: rfc822;x@example.org\nAction: failed\nStatus: 5.0.0\n"
               "Diagnostic-Code: smtp; 552-5.2.2 The email account is over quota\n")  # fmt: skip
    [report] = parse_message(raw)
    assert (report.status, report.reason, report.kind) == ("5.2.2", "mailbox full", "soft")


def test_a_generic_subject_status_takes_the_remote_code_after_its_own() -> None:
    """SES: "Status: 5.1.0", and a diagnostic that repeats 5.1.0 before the remote 5.2.2."""
    raw = _dsn("Final-Recipient: rfc822;x@example.org\nAction: failed\nStatus: 5.1.0\n"
               "Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.2.2 <x@example.org>"
               "... Mailbox Full'\n")  # fmt: skip
    [report] = parse_message(raw)
    assert (report.status, report.reason, report.kind) == ("5.2.2", "mailbox full", "soft")


def test_an_expired_action_is_a_failure() -> None:
    """SendGrid writes "Action: expired" and no Status when it gave up."""
    [report] = parse_message(_dsn("Final-Recipient: rfc822;x@example.org\nAction: expired\n"))
    assert (report.status, report.action, report.reason, report.kind) == (
        "5.4.7",
        "failed",
        "expired",
        "soft",
    )


def test_the_original_recipient_is_preferred_and_an_action_without_status_is_read() -> None:
    raw = _dsn("Original-Recipient: rfc822;Member@Example.org\n"
               "Final-Recipient: rfc822;member.forwarded@elsewhere.example\n"
               "Action: failed (bad mailbox)\n")  # fmt: skip
    [report] = parse_message(raw)
    assert (report.recipient, report.status, report.action) == ("member@example.org", "5.0.0",
                                                                "failed")  # fmt: skip


def test_the_bounces_own_addresses_are_never_the_failed_recipient() -> None:
    """Our VERP address (the bounce's To) and the daemon's own address appear in many reports."""
    raw = SAMPLES["exim"].replace(
        b"  piet@example.nl\n",
        b"  piet@example.nl\n\n  bounces+d42.abc@news.example.org\n"
        b"  <postmaster@mx.example.net>:\n",
    )
    assert [r.recipient for r in parse_message(raw)] == ["piet@example.nl"]


def test_each_recipient_gets_its_own_words() -> None:
    """GMX lists its recipients as quoted addresses; one's paragraph ends where the next starts."""
    raw = message(
        "From: MAILER-DAEMON@gmx.example\nTo: news@example.org\n"
        "Subject: Mail delivery failed: returning message to sender\n",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its recipients.\n"
        "This is a permanent error. The following address(es) failed:\n\n"
        '"mike@example.be":\nSMTP error from remote server after RCPT command:\n'
        "550 5.2.1 <mike@example.be>... User Unknown\n"
        '"sabine@example.be":\nSMTP error from remote server after RCPT command:\n'
        "552 5.2.2 <sabine@example.be>... Mailbox Full\n",
    )
    found = {r.recipient: (r.kind, r.status, r.reason) for r in parse_message(raw)}
    assert found == {
        "mike@example.be": ("hard", "5.2.1", "user unknown"),
        "sabine@example.be": ("soft", "5.2.2", "mailbox full"),
    }


def test_a_quoted_message_id_is_never_a_recipient() -> None:
    """Zoho and others quote the message's headers in the notice; an id looks like an address."""
    raw = message(
        "From: mailer-daemon@zoho.example\nTo: news@example.org\nSubject: Undelivered Mail\n",
        "This message was created automatically by mail delivery software.\n\n"
        "Message-ID:\n  <14a3e1b4b5a.10b1a@zoho.example>\n\n"
        "<jan@example.be>: 550 5.1.1 User unknown\n",
    )
    assert [(r.recipient, r.kind) for r in parse_message(raw)] == [("jan@example.be", "hard")]


def test_an_auto_submitted_bounce_is_still_a_bounce() -> None:
    """Exim and others mark their bounces Auto-Submitted: auto-replied too (RFC 3834)."""
    raw = SAMPLES["exim"].replace(b"Subject:", b"Auto-Submitted: auto-replied\nSubject:")
    assert [r.recipient for r in parse_message(raw)] == ["piet@example.nl"]


SES_HEADERS = (
    "From: no-reply@sns.amazonaws.example\nTo: ops@example.org\n"
    "Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n"
)
SES_FOOTER = "\n--\nIf you wish to stop receiving notifications from this topic, click below.\n"


def _ses(notification: dict[str, object], *, sns_envelope: bool = False) -> bytes:
    body = json.dumps(notification)
    if sns_envelope:
        body = json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": body})
    return message(SES_HEADERS, body + SES_FOOTER)


@pytest.mark.parametrize("sns_envelope", [False, True])
def test_amazon_ses_json_notifications(sns_envelope: bool) -> None:
    mail = {"messageId": "0101", "source": "news@example.org", "destination": ["a@example.org"]}
    bounce = {
        "notificationType": "Bounce",
        "mail": mail,
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [
            {"emailAddress": "A@Example.org", "action": "failed", "status": "5.1.1",
             "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
    }  # fmt: skip
    [hard] = parse_message(_ses(bounce, sns_envelope=sns_envelope))
    assert (hard.recipient, hard.kind, hard.status, hard.source) == (
        "a@example.org",
        "hard",
        "5.1.1",
        "dsn",
    )
    full = {**bounce, "bounce": {"bounceType": "Transient", "bouncedRecipients": [
        {"emailAddress": "b@example.org", "diagnosticCode": "552 5.2.2 full"}]}}  # fmt: skip
    [soft] = parse_message(_ses(full, sns_envelope=sns_envelope))
    assert (soft.recipient, soft.kind, soft.reason) == ("b@example.org", "soft", "mailbox full")
    complaint = {"notificationType": "Complaint", "mail": mail, "complaint": {
        "complainedRecipients": [{"emailAddress": "c@example.org"}],
        "complaintFeedbackType": "abuse"}}  # fmt: skip
    [complained] = parse_message(_ses(complaint, sns_envelope=sns_envelope))
    assert (complained.recipient, complained.kind) == ("c@example.org", "complaint")
    delivered = {
        "notificationType": "Delivery",
        "mail": mail,
        "delivery": {"recipients": ["a@example.org"], "smtpResponse": "250 2.6.0 OK"},
    }
    assert parse_message(_ses(delivered, sns_envelope=sns_envelope)) == []


def test_outlook_com_junk_mail_reports_are_complaints() -> None:
    """Microsoft's JMRP sends no ARF: the reported message attached, its recipient in a header."""
    raw = message(
        "From: staff@hotmail.com\nTo: abuse@example.org\n"
        "Subject: complaint about message from 192.0.2.1\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="J"\n',
        "--J\nContent-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: lea@hotmail.example\n"
        "Return-Path: <bounces+d42.abc@news.example.org>\nMessage-ID: <c7.s42@news.example.org>\n"
        "From: news@example.org\nTo: lea@hotmail.example\nSubject: #Actu\n\nHello\n--J--\n",
    )
    [report] = parse_message(raw)
    assert (report.recipient, report.kind, report.source) == ("lea@hotmail.example", "complaint",
                                                              "arf")  # fmt: skip
    assert report.original_message_id == "<c7.s42@news.example.org>"


@pytest.mark.parametrize(
    ("body", "recipient", "kind"),
    [
        # OpenSMTPD: "address: reason" after its own preamble
        ("    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
         "    An error has occurred while attempting to deliver a message for\n"
         "    the following list of recipients:\n\n"
         "jan@example.be: 550 5.1.1 No such user here\n", "jan@example.be", "hard"),
        # Apache James (and Verizon): the envelope in a summary
        ("Error: Invalid user address\nError message below:\n"
         "550 - Requested action not taken: no such user here\nMessage details:\n"
         "  Subject: #Actu\n  MAIL FROM: news@example.org\n  RCPT TO: piet@example.nl\n",
         "piet@example.nl", "hard"),
        # old Sendmail: the code first, then "<address>... reason"
        ("   ----- Transcript of session follows -----\n"
         "554 <anne@example.com>... Mailbox full\n", "anne@example.com", "soft"),
    ],
)  # fmt: skip
def test_more_text_formats(body: str, recipient: str, kind: str) -> None:
    raw = message("From: MAILER-DAEMON@mx.example.net\nTo: news@example.org\n"
                  "Subject: Returned mail\n", body)  # fmt: skip
    assert [(r.recipient, r.kind) for r in parse_message(raw)] == [(recipient, kind)]


def test_a_report_whose_boundary_is_never_used_is_read_as_text() -> None:
    """The Content-Type promises parts that never come: the whole body is the notice."""
    raw = message(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\nTo: news@example.org\n"
        "Subject: Returned mail: User unknown\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="NEVER"\n',
        "   ----- The following addresses had permanent fatal errors -----\n<luc@example.com>\n"
        "\n   ----- Transcript of session follows -----\n"
        "550 5.1.1 <luc@example.com>... User unknown\n",
    )
    assert [(r.recipient, r.kind, r.status) for r in parse_message(raw)] == [
        ("luc@example.com", "hard", "5.1.1")
    ]


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("status", "diagnostic", "action", "reason", "kind"),
    [
        ("5.1.1", "550 5.1.1 user unknown", "failed", "user unknown", "hard"),
        ("5.0.0", "550 User unknown", "failed", "user unknown", "hard"),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", "failed", "user unknown", "hard"),
        ("5.1.2", "550 5.1.2 Host or domain name not found", "failed", "host unknown", "hard"),
        ("5.4.4", "550 5.4.4 Unable to route", "failed", "host unknown", "hard"),
        ("5.0.0", "554 delivery error: domain does not exist", "failed", "host unknown", "hard"),
        ("5.1.6", "551 5.1.6 user has moved", "failed", "moved", "hard"),
        ("5.7.1", "550 5.7.1 blocked by policy", "failed", "blocked", "soft"),
        ("5.7.1", "554 5.7.1 spam", "failed", "spam/content filtered", "soft"),
        ("5.7.1", "550 5.7.1 Relaying denied", "failed", "policy", "soft"),
        ("5.7.1", "550 5.7.1 <x>: user unknown", "failed", "blocked", "soft"),
        ("5.7.26", "550 5.7.26 unauthenticated mail (DMARC)", "failed", "authentication failure",
         "soft"),
        ("5.0.0", "550 rejected: client host listed at zen.spamhaus.org", "failed", "blocked",
         "soft"),
        ("5.2.2", "552 5.2.2 mailbox full", "failed", "mailbox full", "soft"),
        ("5.0.0", "552 Requested mail action aborted: exceeded storage allocation", "failed",
         "mailbox full", "soft"),
        ("5.0.0", "550 User is over quota", "failed", "mailbox full", "soft"),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "failed", "message too big",
         "soft"),
        ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled", "failed",
         "other", "soft"),
        ("5.2.1", "550 5.2.1 <jan@example.be>... User Unknown", "failed", "user unknown", "hard"),
        ("5.2.1", "550 5.2.1 mailbox disabled", "failed", "other", "soft"),
        ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "failed",
         "user unknown", "hard"),
        ("5.4.1", "550 5.4.1 relay access denied", "failed", "policy", "soft"),
        ("5.1.8", "553 5.1.8 <news@example.org>... Domain of sender address does not exist",
         "failed", "policy", "soft"),
        ("5.1.1", "552 sorry, mailbox x@example.org is over quota temporarily (#5.1.1)",
         "failed", "mailbox full", "soft"),
        ("5.0.0", "Your message wasn't delivered because the address couldn't be found",
         "failed", "user unknown", "hard"),
        ("4.4.7", "Delivery time expired", "failed", "expired", "soft"),
        ("5.4.7", "retry timeout exceeded", "failed", "expired", "soft"),
        ("4.1.1", "450 4.1.1 user unknown (temporary lookup failure)", "delayed", "user unknown",
         "soft"),
        ("4.4.1", "421 4.4.1 connection timed out", "delayed", "network/system error", "soft"),
        ("5.0.0", "550 Requested action not taken: mailbox unavailable", "failed", "other",
         "soft"),
        ("5.0.0", "something we have never seen", "failed", "other", "soft"),
    ],
)  # fmt: skip
def test_classification_table(
    status: str, diagnostic: str, action: str, reason: str, kind: str
) -> None:
    verdict = classify(status, diagnostic, action)
    assert (verdict.reason, verdict.kind) == (reason, kind)


def test_unknown_user_after_data_is_a_filters_word_not_a_dead_address() -> None:
    """A server that took the address at RCPT and refused the message after DATA with "unknown
    user" is a filter speaking: soft. An explicit 5.1.1 stays hard."""
    assert classify("5.0.0", "550 Unknown user", "failed", after_data=True).kind == "soft"
    assert classify("5.0.0", "550 Unknown user", "failed", after_data=False).kind == "hard"
    assert classify("5.1.1", "550 5.1.1 Unknown user", "failed", after_data=True).kind == "hard"
    postfix = (
        SAMPLES["postfix-dsn"]
        .replace(b"Status: 5.1.1", b"Status: 5.0.0")
        .replace(b"550 5.1.1", b"550")
    )
    [by_rcpt] = parse_message(postfix)
    assert by_rcpt.kind == "hard"
    after_data = postfix.replace(
        b"(in reply to\n    RCPT TO command)", b"(in reply to end of\n    DATA command)"
    )
    assert after_data != postfix
    [by_data] = parse_message(after_data)
    assert (by_data.kind, by_data.reason) == ("soft", "spam/content filtered")


def test_hard_needs_a_permanent_failure() -> None:
    assert classify("5.1.1", "user unknown", "delayed").kind == "soft"
    assert classify("4.1.1", "user unknown", "failed").kind == "soft"
    assert classify("5.1.1", "user unknown", "failed").kind == "hard"


def test_classification_only_uses_the_documented_words() -> None:
    for status in ("5.1.1", "5.7.1", "4.2.2", "5.9.9", "", "garbage"):
        verdict = classify(status, "anything at all", "failed")
        assert verdict.reason in REASONS
        assert verdict.kind in KINDS


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("550 5.1.1 user unknown", "5.1.1"),
        ("550-5.7.1 [1.2.3.4] blocked", "5.7.1"),
        ("#5.1.1 smtp;550", "5.1.1"),
        ("550 User unknown", "5.0.0"),
        ("5.1.0 - Unknown address error 550-'5.2.2 <x@example.org>... Mailbox Full'", "5.2.2"),
        ("550 #5.1.0 Address rejected.", "5.1.0"),
        ("452 mailbox full", "4.0.0"),
        ("(Exim 4.92.3) host 10.5.1.1 said nothing", ""),
        ("call 480-624-2500", ""),
    ],
)
def test_status_from_text(text: str, status: str) -> None:
    assert status_from_text(text) == status


# ---------------------------------------------------------------- the command line


def _mailer(mailer_bin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mailer_bin, "bounces", "parse", *args],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_cli_json_is_one_line_per_file(mailer_bin: str, tmp_path: Path) -> None:
    (tmp_path / "postfix.eml").write_bytes(SAMPLES["postfix-dsn"])
    (tmp_path / "ooo.eml").write_bytes(NOT_BOUNCES["out-of-office"])
    result = _mailer(mailer_bin, "--json", "postfix.eml", "ooo.eml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "file": "postfix.eml",
        "bounces": [{
            "recipient": "jan@example.be", "kind": "hard", "status": "5.1.1", "action": "failed",
            "reason": "user unknown",
            "diagnostic": "550 5.1.1 <jan@example.be>: Recipient address rejected: User unknown "
                          "in virtual mailbox table",
            "source": "dsn",
        }],
    }  # fmt: skip
    assert list(first["bounces"][0]) == [
        "recipient", "kind", "status", "action", "reason", "diagnostic", "source"]  # fmt: skip
    assert second == {"file": "ooo.eml", "bounces": []}


def test_cli_reports_a_bad_file_and_goes_on(mailer_bin: str, tmp_path: Path) -> None:
    (tmp_path / "qmail.eml").write_bytes(SAMPLES["qmail"])
    result = _mailer(mailer_bin, "--json", "missing.eml", "qmail.eml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: missing.eml: cannot read: No such file or directory"
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == ["qmail.eml"]
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_one_unreadable_file_is_one_clear_line(mailer_bin: str, tmp_path: Path) -> None:
    result = _mailer(mailer_bin, str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    expected = f"error: {tmp_path}: cannot read: is a folder, not a message file"
    assert result.stderr.strip() == expected


def test_cli_table(mailer_bin: str, tmp_path: Path) -> None:
    (tmp_path / "exim.eml").write_bytes(SAMPLES["exim"])
    (tmp_path / "plain.eml").write_bytes(NOT_BOUNCES["ordinary"])
    result = _mailer(mailer_bin, "exim.eml", "plain.eml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exim.eml: 1 bounce(s)" in result.stdout
    assert "piet@example.nl" in result.stdout
    assert "user unknown" in result.stdout
    assert "plain.eml: not a bounce" in result.stdout
