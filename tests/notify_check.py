#!/usr/bin/python3
"""notify_check.py MAILDIR... - prints every message of the Maildirs
(new/ and cur/) as the notify_smtp.sh test checks it: parsed with the
Python standard library's email package (an independent MIME parser), one
block per message, headers decoded (RFC 2047), body decoded to UTF-8.

    == MESSAGE-ID
    subject: ...
    from: NAME <ADDR>
    to: NAME <ADDR>, ...
    date: ...
    auto-submitted: ...
    x-bounced-notice: ...
    return-path: ...
    content-type: text/plain; charset=utf-8 (cte base64)
    headers-7bit: yes|no
    body:
    ...
"""
import email
import email.policy
import email.utils
import os
import sys


def block(path):
    raw = open(path, "rb").read()
    head = raw.split(b"\n\n", 1)[0]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = ["== %s" % msg["Message-ID"]]
    out.append("subject: %s" % msg["Subject"])
    for h in ("From", "To"):
        addrs = msg[h].addresses if msg[h] is not None else ()
        out.append("%s: %s" % (h.lower(), ", ".join(
            "%s <%s>" % (a.display_name, a.addr_spec) for a in addrs)))
    date = msg["Date"]
    out.append("date: %s" % (date.datetime.isoformat() if date else None))
    for h in ("Auto-Submitted", "X-Bounced-Notice", "Return-Path"):
        out.append("%s: %s" % (h.lower(), msg[h]))
    out.append("content-type: %s; charset=%s (cte %s)" % (
        msg.get_content_type(), msg.get_content_charset(),
        msg["Content-Transfer-Encoding"]))
    out.append("headers-7bit: %s" % ("yes" if max(head, default=0) < 0x80
                                     else "no"))
    out.append("body:")
    out.append(msg.get_content())
    return "\n".join(out)


def main():
    for d in sys.argv[1:]:
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            if not os.path.isdir(p):
                continue
            for f in sorted(os.listdir(p)):
                print(block(os.path.join(p, f)))


main()
