#!/usr/bin/python3
"""Copy the DSNs out of a Maildir into fixture files with readable names.

Usage: collect.py MAILDIR CASES_TSV OUTDIR [REPLACE=WITH ...]

The case is found from the order number (X-Order-Number of the returned
message, or the ENVID).  The kind suffix comes from the DSN itself:
  failed    Action: failed with a 5.x.x status
  expired   Action: failed with a 4.x.x status (queue lifetime reached), or an
            OpenSMTPD "Envelope expired" notice
  delayed   Action: delayed (warning, still being retried)
  relayed / delivered   success DSNs
Messages are copied byte for byte; the only change is the optional literal
REPLACE=WITH substitutions gen.sh passes (temp-dir paths, the build host's
name) should they ever appear.
"""
import email
import email.policy
import os
import re
import sys


def kind_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    actions, statuses = [], []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            text = ""
            if isinstance(payload, list):
                text = "\n".join(p.as_string() for p in payload)
            else:
                text = part.get_payload(decode=True).decode("latin-1")
            actions += [a.lower() for a in re.findall(r"(?mi)^Action:\s*(\S+)", text)]
            statuses += re.findall(r"(?mi)^Status:\s*(\d)", text)
    if not actions:
        text = raw.decode("latin-1")
        actions = [a.lower() for a in re.findall(r"(?mi)^Action:\s*(\S+)", text)]
        statuses = re.findall(r"(?mi)^Status:\s*(\d)", text)
    text = raw.decode("latin-1")
    if "failed" in actions:
        if statuses and all(s == "4" for s in statuses):
            return "expired"                       # Postfix: failed, Status 4.x.x
        if re.search(r"(?i)retry timeout exceeded", text):
            return "expired"                       # Exim: failed, Status 5.0.0
        return "failed"
    if "delayed" in actions:
        return "expired" if re.search(r"(?i)envelope expired", text) else "delayed"
    for a in ("delivered", "relayed", "expanded"):
        if a in actions:
            return a
    return "unknown"


def main():
    maildir, tsv, outdir = sys.argv[1:4]
    repl = [a.split("=", 1) for a in sys.argv[4:] if "=" in a]
    cases = dict(l.rstrip("\n").split("\t") for l in open(tsv) if l.strip())
    os.makedirs(outdir, exist_ok=True)
    files = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in os.listdir(d)]
    # Dovecot maildir names start with the delivery time: sort by (time, name)
    files.sort(key=lambda p: (os.path.getmtime(p), os.path.basename(p)))
    written = []
    for p in files:
        raw = open(p, "rb").read()
        m = re.search(rb"ORD-2026-\d{6}", raw)
        case = cases.get(m.group().decode(), "unmatched") if m else "unmatched"
        name = f"{case}-{kind_of(raw)}"
        out = os.path.join(outdir, name + ".eml")
        n = 2
        while os.path.exists(out) and out in written:
            out = os.path.join(outdir, f"{name}-{n}.eml")
            n += 1
        for a, b in repl:
            if a:
                raw = raw.replace(a.encode(), b.encode())
        with open(out, "wb") as f:
            f.write(raw)
        written.append(out)
        print(f"  {os.path.basename(out)}")
    print(f"{len(written)} fixtures written to {outdir}")


if __name__ == "__main__":
    main()
