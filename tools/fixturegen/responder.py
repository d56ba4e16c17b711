#!/usr/bin/python3
"""Scripted SMTP responder for the bounce fixture generator.

Usage:
    responder.py [--host 127.0.0.1] [--reply-via HOST:PORT] PORT   scripted replies
    responder.py [--host 127.0.0.2] PORT stall      accept TCP, never send a banner

Standard library only (asyncio).  The reply is chosen from the local part of
RCPT TO (anything after '+' is ignored).  Every reply text below is the text
the named provider/MTA really sends (public facts, collected from provider
documentation and published bounce logs); only the per-session ids are
made up.  Unknown local parts get 250.

Each rule is (stage, lines, close):
    stage "rcpt": the reply is given to RCPT TO
    stage "data": RCPT is accepted (250), the reply is given after the
                  end-of-data dot
    close: close the connection right after the reply (421 behaviour)

Local parts in AUTOREPLY are accepted (250) and, with --reply-via, answered
like a vacation responder at the recipient's provider would: an RFC 3834
auto-reply (Auto-Submitted: auto-replied, null envelope sender) to the
envelope sender, submitted over SMTP to HOST:PORT (the MTA under test).
"""
import asyncio
import email.utils
import smtplib
import sys
import time
from email.message import EmailMessage

BANNER_HOST = "mx.responder.test"
GID = "d2e1a72fcca58-6f3c2b0e3a1si1234567pfb.123"     # Gmail-style session id
MSID = "TYZPR01MB5555.jpnprd01.prod.outlook.com"      # Exchange Online server

RULES = {
    # ---------------------------------------------------------------- Gmail
    "gmail-unknown": ("rcpt", [
        "550-5.1.1 The email account that you tried to reach does not exist. Please try",
        "550-5.1.1 double-checking the recipient's email address for typos or",
        "550-5.1.1 unnecessary spaces. For more information, go to",
        "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser {gid} - gsmtp",
    ], False),
    "gmail-disabled": ("rcpt", [
        "550-5.2.1 The email account that you tried to reach is inactive. For more",
        "550-5.2.1 information, go to",
        "550 5.2.1  https://support.google.com/mail/?p=DisabledUser {gid} - gsmtp",
    ], False),
    "gmail-auth": ("data", [
        "550-5.7.26 This mail has been blocked because the sender is",
        "550-5.7.26 unauthenticated. Gmail requires all senders to authenticate with",
        "550-5.7.26 either SPF or DKIM.",
        "550-5.7.26",
        "550-5.7.26  Authentication results:",
        "550-5.7.26  DKIM = did not pass",
        "550-5.7.26  SPF [{sdomain}] with ip: [{ip}] = did not pass",
        "550-5.7.26",
        "550-5.7.26  For instructions on setting up authentication, go to",
        "550 5.7.26  https://support.google.com/mail/answer/81126#authentication {gid} - gsmtp",
    ], False),
    "gmail-dmarc": ("data", [
        "550-5.7.26 Unauthenticated email from {sdomain} is not accepted due to domain's",
        "550-5.7.26 DMARC policy. Please contact the administrator of {sdomain} domain",
        "550-5.7.26 if this was a legitimate mail. To learn about the DMARC initiative,",
        "550 5.7.26 go to  https://support.google.com/mail/?p=DmarcRejection {gid} - gsmtp",
    ], False),
    "gmail-rate": ("rcpt", [
        "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating",
        "421-4.7.28 from your IP address. To protect our users from spam, mail sent from your IP",
        "421-4.7.28 address has been temporarily rate limited. For more information, go to",
        "421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to",
        "421 4.7.28 review our Bulk Email Senders Guidelines. {gid} - gsmtp",
    ], True),
    "gmail-full": ("rcpt", [
        "452-4.2.2 The email account that you tried to reach is over quota. Please direct",
        "452-4.2.2 the recipient to",
        "452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp {gid} - gsmtp",
    ], False),
    "gmail-block": ("data", [
        "550-5.7.1 [{ip}      12] Our system has detected that this message is",
        "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,",
        "550-5.7.1 this message has been blocked. For more information, go to",
        "550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError {gid} - gsmtp",
    ], False),
    "gmail-ptr": ("rcpt", [
        "550-5.7.25 [{ip}] The IP address sending this message does not have a",
        "550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not",
        "550-5.7.25 point to the sending IP. As a policy, Gmail does not accept messages",
        "550-5.7.25 from IPs with missing PTR records. For more information, go to",
        "550 5.7.25  https://support.google.com/mail/answer/81126#ip-rdns {gid} - gsmtp",
    ], False),
    # ---------------------------------------------------------------- Yahoo
    "yahoo-auth": ("data", [
        "554 5.7.9 Message not accepted for policy reasons.  See https://senders.yahooinc.com/error-codes",
    ], False),
    "yahoo-tss04": ("rcpt", [
        "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ], True),
    "yahoo-unknown": ("data", [
        "554 delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0] - mta4012.mail.bf1.yahoo.com",
    ], False),
    # ------------------------------------------------------------ Microsoft
    "ms-auth": ("data", [
        "550 5.7.515 Access denied, sending domain {sdomain} doesn't meet the required authentication level. "
        "The sender's domain in the 5322.From address doesn't meet the authentication requirements defined for the sender. "
        "To learn more, see https://go.microsoft.com/fwlink/?linkid=2297302 [{msid} 2026-01-15T01:23:45.678Z 08DD33A1B2C3D4E5]",
    ], False),
    "ms-unknown": ("rcpt", [
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP address lookup",
    ], False),
    "outlook-unavailable": ("rcpt", [
        "550 5.5.0 Requested action not taken: mailbox unavailable. [{msid} 2026-01-15T01:23:45.678Z 08DD33A1B2C3D4E5]",
    ], False),
    "outlook-blocklist": ("rcpt", [
        "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider "
        "since part of their network is on our block list (S3150). You can also refer your provider to "
        "http://mail.live.com/mail/troubleshooting.aspx#errors. [{msid}]",
    ], False),
    # --------------------------------------------------------------- Apple
    "icloud-unknown": ("rcpt", [
        "550 5.1.1 <{rcpt}>: user does not exist",
    ], False),
    # ------------------------------------------------- Japanese carriers
    # docomo (mfsmax.docomo.ne.jp): "550 Unknown user ***@docomo.ne.jp"
    "docomo-unknown": ("rcpt", ["550 Unknown user {rcpt}"], False),
    # au/KDDI (lsean.ezweb.ne.jp): "550 <***@ezweb.ne.jp>: User unknown";
    # "550 : User unknown" is what the domain/address reception filter gives
    "au-unknown": ("rcpt", ["550 <{rcpt}>: User unknown"], False),
    "au-filtered": ("rcpt", ["550 : User unknown"], False),
    # SoftBank: "550 Invalid recipient: <***@softbank.ne.jp>"
    "softbank-unknown": ("rcpt", ["550 Invalid recipient: <{rcpt}>"], False),
    # ------------------------------------------------------------ generic
    "unknown": ("rcpt", [
        "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    ], False),
    "full": ("rcpt", ["452 4.2.2 <{rcpt}>: Recipient address rejected: Mailbox full"], False),
    "full552": ("rcpt", ["552 5.2.2 <{rcpt}> Quota exceeded (mailbox for user is full)"], False),
    "greylist": ("rcpt", [
        "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{rdomain}.html",
    ], False),
    "spam": ("data", ["554 5.7.1 Message rejected: spam content detected"], False),
    "toolarge": ("data", ["552 5.3.4 Message size exceeds fixed limit"], False),
    "ptr": ("rcpt", [
        "550 5.7.25 <{rcpt}>: Client host rejected: cannot find your reverse hostname, [{ip}]",
    ], False),
    "relay": ("rcpt", ["554 5.7.1 <{rcpt}>: Relay access denied"], False),
    "disabled": ("rcpt", ["550 5.2.1 <{rcpt}>: Recipient address rejected: Account disabled"], False),
    "rbl": ("rcpt", [
        "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/{ip}",
    ], False),
}

# vacation responders: accepted, then an auto-reply goes back
AUTOREPLY = {"vacation"}
REPLY_VIA = None      # (host, port) from --reply-via


def send_autoreply(rcpt, sender, msgid):
    """Sends the out-of-office reply of rcpt to sender (blocking)."""
    m = EmailMessage()
    m["From"] = email.utils.formataddr(("山田 太郎", rcpt))
    m["To"] = sender
    m["Subject"] = "自動応答: 不在のお知らせ (Out of Office)"
    m["Date"] = email.utils.formatdate(localtime=True)
    m["Message-ID"] = email.utils.make_msgid(domain="mx.responder.test")
    if msgid:
        m["In-Reply-To"] = msgid
        m["References"] = msgid
    m["Auto-Submitted"] = "auto-replied"
    m["X-Auto-Response-Suppress"] = "All"
    m.set_content("メールありがとうございます。\n"
                  "ただいま休暇中のため、1月20日以降に順次お返事いたします。\n"
                  "\nI am out of the office until January 20.\n")
    with smtplib.SMTP(REPLY_VIA[0], REPLY_VIA[1], local_hostname=BANNER_HOST,
                      timeout=30) as s:
        s.send_message(m, from_addr="", to_addrs=[sender])
    log("AUTOREPLY", rcpt, "->", sender)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def localpart(addr):
    addr = addr.strip()
    if addr.startswith("<"):
        addr = addr[1:addr.find(">")] if ">" in addr else addr[1:]
    lp = addr.split("@", 1)[0]
    return lp.split("+", 1)[0].lower(), addr


def fmt(lines, **kw):
    return "".join(l.format(**kw) + "\r\n" for l in lines).encode()


class Session:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.ip = peer[0]
        self.reset()

    def reset(self):
        self.sender = ""
        self.rcpts = []      # (localpart, addr) accepted at RCPT

    def kw(self, rcpt=""):
        sdomain = self.sender.rsplit("@", 1)[-1] if "@" in self.sender else "bounce.test"
        return dict(rcpt=rcpt, ip=self.ip, gid=GID, msid=MSID, sdomain=sdomain,
                    rdomain=rcpt.rsplit("@", 1)[-1] if "@" in rcpt else "")

    async def send(self, data):
        self.w.write(data)
        await self.w.drain()

    async def run(self):
        await self.send(f"220 {BANNER_HOST} ESMTP ready\r\n".encode())
        while True:
            line = await self.r.readline()
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await self.send((f"250-{BANNER_HOST} at your service, [{self.ip}]\r\n"
                                 "250-SIZE 157286400\r\n250-8BITMIME\r\n"
                                 "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
                                 "250 SMTPUTF8\r\n").encode())
            elif verb == "HELO":
                await self.send(f"250 {BANNER_HOST}\r\n".encode())
            elif verb == "MAIL":
                self.reset()
                arg = cmd[cmd.find(":") + 1:].strip()
                self.sender = arg[1:arg.find(">")] if arg.startswith("<") else arg.split(" ")[0]
                await self.send(b"250 2.1.0 OK\r\n")
            elif verb == "RCPT":
                lp, addr = localpart(cmd[cmd.find(":") + 1:])
                log("RCPT", addr, "->", lp)
                rule = RULES.get(lp)
                if rule and rule[0] == "rcpt":
                    await self.send(fmt(rule[1], **self.kw(addr)))
                    if rule[2]:
                        self.w.close()
                        return
                else:
                    self.rcpts.append((lp, addr))
                    await self.send(b"250 2.1.5 OK\r\n")
            elif verb == "DATA":
                if not self.rcpts:
                    await self.send(b"554 5.5.1 Error: no valid recipients\r\n")
                    continue
                await self.send(b"354 Go ahead\r\n")
                msgid, inhead = "", True
                while True:
                    l = await self.r.readline()
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if inhead and l.lower().startswith(b"message-id:"):
                        msgid = l.decode("latin-1")[11:].strip()
                    inhead = inhead and l.strip() != b""
                reply, close = None, False
                for lp, addr in self.rcpts:
                    rule = RULES.get(lp)
                    if rule and rule[0] == "data":
                        reply, close = fmt(rule[1], **self.kw(addr)), rule[2]
                        break
                if reply is None:
                    reply = f"250 2.0.0 OK  {int(time.time())} {GID} - gsmtp\r\n".encode()
                log("DATA", [a for _, a in self.rcpts], "->", reply.split(b"\r\n")[0])
                await self.send(reply)
                for lp, addr in self.rcpts:
                    if lp in AUTOREPLY and REPLY_VIA and self.sender and reply.startswith(b"250"):
                        asyncio.get_running_loop().run_in_executor(
                            None, send_autoreply, addr, self.sender, msgid)
                self.reset()
                if close:
                    self.w.close()
                    return
            elif verb == "RSET":
                self.reset()
                await self.send(b"250 2.0.0 OK\r\n")
            elif verb == "NOOP":
                await self.send(b"250 2.0.0 OK\r\n")
            elif verb == "QUIT":
                await self.send(b"221 2.0.0 closing connection\r\n")
                self.w.close()
                return
            else:
                await self.send(b"502 5.5.1 Unrecognized command\r\n")


async def handle(reader, writer):
    try:
        await Session(reader, writer).run()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def stall(reader, writer):
    log("stall: accepted", writer.get_extra_info("peername"))
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    writer.close()


async def main():
    args = sys.argv[1:]
    host = "127.0.0.1"
    global REPLY_VIA
    while args[:1] in (["--host"], ["--reply-via"]):
        if args[0] == "--host":
            host = args[1]
        else:
            h, p = args[1].rsplit(":", 1)
            REPLY_VIA = (h, int(p))
        args = args[2:]
    port = int(args[0])
    mode = args[1] if len(args) > 1 else "script"
    server = await asyncio.start_server(stall if mode == "stall" else handle, host, port)
    log(f"responder {mode} listening on {host}:{port}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
