#!/usr/bin/python3
# pop3_fake.py PORT MODE - a plaintext POP3 server for one broken case each:
#   nouidl   CAPA without UIDL, UIDL refused
#   baduidl  UIDL "1 has space" (not a valid RFC 1939 unique-id)
#   dupuidl  two messages with the same UIDL
# pop3_fake.py PORT deletefail MSGFILE FLAGFILE - one message (MSGFILE,
#   UIDL "msg-1") and DELE refused while FLAGFILE exists; once a DELE was
#   accepted and QUIT sent, the message is gone ("deleted msg-1" printed).
# Serves connections until killed; prints "ready" once listening.
import os
import socket
import sys

port, mode = int(sys.argv[1]), sys.argv[2]
msg = b"From: a@example.jp\r\nSubject: x\r\n\r\nbody\r\n"
present = True  # deletefail: the message is still on the server
if mode == "deletefail":
    with open(sys.argv[3], "rb") as fp:
        msg = fp.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    msg = msg.replace(b"\r\n.", b"\r\n..")
    flag = sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(5)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    c.sendall(b"+OK fake\r\n")
    deleted = False
    for line in f:
        cmd = line.strip().split(b" ")[0].upper()
        if cmd == b"CAPA":
            caps = b"USER\r\n" if mode == "nouidl" else b"USER\r\nUIDL\r\n"
            c.sendall(b"+OK\r\n" + caps + b".\r\n")
        elif cmd == b"LIST" and mode == "deletefail":
            c.sendall(b"+OK\r\n" + (b"1 %d\r\n" % len(msg) if present else b"") + b".\r\n")
        elif cmd == b"UIDL" and mode == "deletefail":
            c.sendall(b"+OK\r\n" + (b"1 msg-1\r\n" if present else b"") + b".\r\n")
        elif cmd == b"DELE" and mode == "deletefail":
            if os.path.exists(flag):
                c.sendall(b"-ERR deletion refused (test)\r\n")
            else:
                deleted = True
                c.sendall(b"+OK\r\n")
        elif cmd == b"LIST":
            c.sendall(b"+OK\r\n1 %d\r\n2 %d\r\n.\r\n" % (len(msg), len(msg)))
        elif cmd == b"UIDL":
            if mode == "nouidl":
                c.sendall(b"-ERR no\r\n")
            elif mode == "baduidl":
                c.sendall(b"+OK\r\n1 has space\r\n2 fine\r\n.\r\n")
            else:
                c.sendall(b"+OK\r\n1 same\r\n2 same\r\n.\r\n")
        elif cmd == b"RETR":
            c.sendall(b"+OK\r\n" + msg + b".\r\n")
        elif cmd == b"QUIT":
            if deleted and present:
                present = False
                print("deleted msg-1", flush=True)
            c.sendall(b"+OK bye\r\n")
            break
        else:
            c.sendall(b"+OK\r\n")
    c.close()
