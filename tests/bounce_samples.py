"""Hand-written bounce messages in the shapes real mail systems send, shared by the parse and
fuzz tests. Addresses use reserved example domains; the returned message is always ours: VERP
Return-Path, a Message-ID from (campaign, subscriber)."""

from __future__ import annotations

__all__ = ["NOT_BOUNCES", "SAMPLES", "message"]

RETURNED = """Return-Path: <bounces+d42.abc@news.example.org>
Message-ID: <c7.s42@news.example.org>
From: Newsletter <news@example.org>
To: {to}
Subject: #Actu - December
List-Id: actu <actu.example.org>
Feedback-ID: 7:actu:newsletter:example.org
"""


def message(headers: str, body: str) -> bytes:
    """A message from a header block and a body (LF line ends, as mail stores often keep)."""
    return (headers.strip("\n") + "\n\n" + body.lstrip("\n")).encode("utf-8")


_DAEMON = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"


def _report(notice: str, status: str, to: str, *, report_type: str = "delivery-status",
            status_type: str = "message/delivery-status", subject: str = "Undelivered Mail",
            sender: str = _DAEMON) -> bytes:  # fmt: skip
    headers = f"""From: {sender}
To: bounces+d42.abc@news.example.org
Subject: {subject}
MIME-Version: 1.0
Content-Type: multipart/report; report-type={report_type}; boundary="BOUNDARY"
"""
    body = f"""--BOUNDARY
Content-Type: text/plain; charset=utf-8

{notice}
--BOUNDARY
Content-Type: {status_type}

{status}
--BOUNDARY
Content-Type: text/rfc822-headers

{RETURNED.format(to=to)}
--BOUNDARY--
"""
    return message(headers, body)


def _text(sender: str, subject: str, body: str, to: str, *, marker: str) -> bytes:
    headers = f"From: {sender}\nTo: bounces+d42.abc@news.example.org\nSubject: {subject}\n"
    return message(headers, f"{body}\n{marker}\n\n{RETURNED.format(to=to)}\nHello!\n")


POSTFIX_DSN = _report(
    """This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<jan@example.be>: host mx.example.be[192.0.2.1] said: 550 5.1.1 <jan@example.be>:
    Recipient address rejected: User unknown in virtual mailbox table (in reply to
    RCPT TO command)
""",
    """Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4F1A2B3C4D
Arrival-Date: Mon,  1 Dec 2025 09:00:01 +0100 (CET)

Final-Recipient: rfc822; jan@example.be
Original-Recipient: rfc822;Jan@Example.be
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.be
Diagnostic-Code: smtp; 550 5.1.1 <jan@example.be>: Recipient address rejected: User
    unknown in virtual mailbox table
""",
    "jan@example.be",
)
POSTFIX_TEXT = _text(
    "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
    "Undelivered Mail Returned to Sender",
    """This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<sophie@example.fr>: host mx.example.fr[192.0.2.7] said: 552 5.2.2 <sophie@example.fr>:
    Mailbox full (in reply to RCPT TO command)
""",
    "sophie@example.fr",
    marker="--- The header of the original message is following. ---",
)
EXIM = _text(
    "Mail Delivery System <Mailer-Daemon@mx.example.net>",
    "Mail delivery failed: returning message to sender",
    """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  piet@example.nl
    host mx.example.nl [192.0.2.9]
    SMTP error from remote mail server after RCPT TO:<piet@example.nl>:
    550 5.1.1 <piet@example.nl>: Recipient address rejected: User unknown
""",
    "piet@example.nl",
    marker="------ This is a copy of the message, including all the headers. ------",
)
EXIM_DELAY = _text(
    "Mail Delivery System <Mailer-Daemon@mx.example.net>",
    "Warning: message 1vQxYz-000123-AB delayed 24 hours",
    """This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.net.

The address(es) that have not yet been delivered are:

  marie@example.fr
    host mx.example.fr [192.0.2.3]: 452 4.2.2 <marie@example.fr>: Mailbox full

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.
""",
    "marie@example.fr",
    marker="------ This is a copy of the message's headers. ------",
)
SENDMAIL = _text(
    "Mail Delivery Subsystem <MAILER-DAEMON@mail.example.com>",
    "Returned mail: see transcript for details",
    """The original message was received at Mon, 1 Dec 2025 09:00:01 +0100
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<luc@example.com>
    (reason: 550 5.1.1 <luc@example.com>... User unknown)

   ----- Transcript of session follows -----
... while talking to mx.example.com.:
>>> RCPT To:<luc@example.com>
<<< 550 5.1.1 <luc@example.com>... User unknown
550 5.1.1 luc@example.com... User unknown
""",
    "luc@example.com",
    marker="   ----- Original message follows -----",
)
QMAIL = _text(
    "MAILER-DAEMON@mail.example.com",
    "failure notice",
    """Hi. This is the qmail-send program at mail.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<anne@example.com>:
192.0.2.5 does not like recipient.
Remote host said: 550 5.1.1 <anne@example.com>: Recipient address rejected: User unknown
Giving up on 192.0.2.5.
""",
    "anne@example.com",
    marker="--- Below this line is a copy of the message.",
)
EXCHANGE = _text(
    "Microsoft Outlook <postmaster@contoso.example>",
    "Undeliverable: #Actu - December",
    """Delivery has failed to these recipients or groups:

bob@contoso.example<mailto:bob@contoso.example>
The email address you entered couldn't be found. Please check the recipient's email
address and try to resend the message. If the problem continues, please contact your
helpdesk.

Diagnostic information for administrators:

Generating server: AM0PR01MB1234.eurprd01.prod.exchangelabs.com

bob@contoso.example
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by
SMTP address lookup'
""",
    "bob@contoso.example",
    marker="Original message headers:",
)
OUTLOOK_DSN = _report(
    """Your message to lea@outlook.example couldn't be delivered.

lea wasn't found at outlook.example.
""",
    """Reporting-MTA: dns;DB8EUR05FT003.mail.protection.outlook.com

Final-Recipient: rfc822;lea@outlook.example
Action: failed
Status: 5.5.0
Diagnostic-Code: smtp;550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)
""",
    "lea@outlook.example",
    sender="postmaster@outlook.example",
    subject="Undeliverable: #Actu - December",
)
GMAIL_DSN = _report(
    """** Address not found **

Your message wasn't delivered to nobody@gmail.example because the address couldn't be
found, or is unable to receive mail.

The response was:

The email account that you tried to reach does not exist. Please try double-checking the
recipient's email address for typos or unnecessary spaces.
""",
    """Reporting-MTA: dns; googlemail.com
Arrival-Date: Mon, 01 Dec 2025 00:00:01 -0800 (PST)

Final-Recipient: rfc822; nobody@gmail.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c06::1b, the server for the
 domain gmail.example.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
 Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1
 unnecessary spaces. 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser - gsmtp
Last-Attempt-Date: Mon, 01 Dec 2025 00:00:02 -0800 (PST)
""",
    "nobody@gmail.example",
    sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
    subject="Delivery Status Notification (Failure)",
)
GMAIL_TEXT = _text(
    "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
    "Delivery Status Notification (Failure)",
    """** Address not found **

Your message wasn't delivered to ghost@gmail.example because the address couldn't be
found, or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist. Please try
double-checking the recipient's email address for typos or unnecessary spaces.
""",
    "ghost@gmail.example",
    marker="----- Original message -----",
)
YAHOO = _text(
    "MAILER-DAEMON@yahoo.com",
    "Failure Notice",
    """Sorry, we were unable to deliver your message to the following address.

<tom@yahoo.example>:
554: delivery error: dd Not a valid recipient - atlas106.free.mail.bf1.yahoo.com
""",
    "tom@yahoo.example",
    marker="--- Below this line is a copy of the message.",
)
SES = _report(
    """An error occurred while trying to deliver the mail to the following recipients:
eva@example.com
""",
    """Reporting-MTA: dns; a4-1.smtp-out.eu-west-1.amazonses.com

Final-Recipient: rfc822; eva@example.com
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 554 5.7.1 Message rejected as spam by Content Filtering policy
""",
    "eva@example.com",
    sender="MAILER-DAEMON@amazonses.com",
    subject="Delivery Status Notification (Failure)",
)
ARF = _report(
    "This is an email abuse report for an email message received from IP 192.0.2.77.",
    """Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <bounces+d42.abc@news.example.org>
Original-Rcpt-To: <Claire@yahoo.example>
Arrival-Date: Mon, 01 Dec 2025 09:00:05 +0000
Reported-Domain: news.example.org
Source-IP: 192.0.2.77
""",
    "claire@yahoo.example",
    report_type="feedback-report",
    status_type="message/feedback-report",
    sender="feedback@arf.mail.yahoo.example",
    subject="FW: #Actu - December",
)
# Providers that redact: no Original-Rcpt-To, and the returned message's To removed.
ARF_REDACTED = ARF.replace(b"Original-Rcpt-To: <Claire@yahoo.example>\n", b"").replace(
    b"To: claire@yahoo.example\n", b""
)

SAMPLES: dict[str, bytes] = {
    "postfix-dsn": POSTFIX_DSN, "postfix-text": POSTFIX_TEXT, "exim": EXIM,
    "exim-delay": EXIM_DELAY, "sendmail": SENDMAIL, "qmail": QMAIL, "exchange": EXCHANGE,
    "outlook-dsn": OUTLOOK_DSN, "gmail-dsn": GMAIL_DSN, "gmail-text": GMAIL_TEXT,
    "yahoo": YAHOO, "ses": SES, "arf": ARF, "arf-redacted": ARF_REDACTED,
}  # fmt: skip

_HUMAN = "From: Jan Peeters <jan@example.be>\nTo: bounces+d42.abc@news.example.org\n"
NOT_BOUNCES: dict[str, bytes] = {
    "rfc3834": message(_HUMAN + "Subject: Re: #Actu\nAuto-Submitted: auto-replied\n",
                       "I am away until Monday.\n"),
    "x-autoreply": message(_HUMAN + "Subject: Re: #Actu\nX-Autoreply: yes\n", "Away.\n"),
    "precedence": message(_HUMAN + "Subject: Re: #Actu\nPrecedence: auto_reply\n", "Away.\n"),
    "out-of-office": message(_HUMAN + "Subject: Out of Office: #Actu\n", "Back on 5/1.\n"),
    "automatic-reply": message(_HUMAN + "Subject: Automatic reply: #Actu\n", "Away.\n"),
    "reponse-automatique": message(
        _HUMAN + "Subject: =?utf-8?q?R=C3=A9ponse_automatique=C2=A0=3A_=23Actu?=\n",
        "Je suis absent. Failed recipient: nobody@example.be\n"),
    "absence": message(_HUMAN + "Subject: Absence\n", "Absent jusqu'au 3.\n"),
    "afwezig": message(_HUMAN + "Subject: Afwezig: #Actu\n", "Ik ben afwezig.\n"),
    "delivered-dsn": _report(
        "Your message was delivered.",
        "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; ok@example.org\n"
        "Action: delivered\nStatus: 2.0.0\n",
        "ok@example.org", subject="Delivery Status Notification (Success)"),
    "relayed-dsn": _report(
        "Relayed.",
        "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; ok@example.org\n"
        "Action: relayed\nStatus: 2.0.0\n\nFinal-Recipient: rfc822; ok2@example.org\n"
        "Action: expanded\nStatus: 2.0.0\n",
        "ok@example.org", subject="Delivery Status Notification (Relay)"),
    "ordinary": message(_HUMAN + "Subject: Question about the newsletter\n",
                        "Hello, can you add colleague@example.be? Thanks, Jan\n"),
    "not-spam-arf": ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam"),
    "empty": b"",
    "garbage": bytes(range(256)) * 8,
    "headers-only": b"From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n",
}  # fmt: skip
