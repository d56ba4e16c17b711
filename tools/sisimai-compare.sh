#!/bin/sh
# sisimai-compare.sh - compare bouncectl parse with Sisimai on the same mail.
#
#   tools/sisimai-compare.sh BOUNCECTL FILE...
#
# Runs both over each file and prints, per recipient, where they differ
# on the reason or on hard/soft, then the totals.  Sisimai's answer is a
# reference, not the truth: read each difference.  Needs libsisimai-perl.
set -eu
bouncectl=$1; shift
perl -MSisimai -MJSON::PP -e '
	for my $f (@ARGV) {
		my $v = Sisimai->make($f, delivered => 1, vacation => 1) || [];
		for my $e (@$v) {
			print JSON::PP->new->canonical->encode({file => $f,
			    recipient => lc $e->recipient->address,
			    reason => $e->reason,
			    hardbounce => ($e->softbounce eq "0") ? JSON::PP::true : JSON::PP::false}), "\n";
		}
		print JSON::PP->new->encode({file => $f, recipient => undef}), "\n" unless @$v;
	}' "$@" >/tmp/sisimai.$$.jsonl
"$bouncectl" parse "$@" >/tmp/bounced.$$.jsonl || true
/usr/bin/python3 - /tmp/sisimai.$$.jsonl /tmp/bounced.$$.jsonl <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p, encoding="utf-8"):
        o = json.loads(line)
        out.setdefault(o["file"], {})[(o.get("recipient") or "").lower()] = o
    return out
s, b = load(sys.argv[1]), load(sys.argv[2])
n = found = reason = hard = 0
for f, rs in sorted(s.items()):
    for r, o in rs.items():
        if not r:
            continue
        n += 1
        m = b.get(f, {}).get(r)
        if m is None:
            print(f"MISSING  {f} {r} (sisimai: {o['reason']})")
            continue
        found += 1
        if m["reason"] == o["reason"] or (m["reason"] == "emailtoolarge" and o["reason"] == "mesgtoobig"):
            reason += 1
        else:
            print(f"REASON   {f} {r}: bounced {m['reason']} ({m['rule']}), sisimai {o['reason']}")
        if bool(m["hardbounce"]) == bool(o["hardbounce"]):
            hard += 1
        else:
            print(f"HARD     {f} {r}: bounced {m['hardbounce']}, sisimai {o['hardbounce']}")
for f, rs in sorted(b.items()):
    for r, o in rs.items():
        if r and r not in s.get(f, {}):
            print(f"EXTRA    {f} {r} ({o['kind']} {o['reason']})")
pct = lambda x: 100.0 * x / n if n else 0
print(f"sisimai recipients {n}: bounced found {found} ({pct(found):.1f}%), "
      f"same reason {reason} ({pct(reason):.1f}%), same hard/soft {hard} ({pct(hard):.1f}%)")
PY
rm -f /tmp/sisimai.$$.jsonl /tmp/bounced.$$.jsonl
