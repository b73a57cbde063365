"""Parses one stored email with Python's email package and prints it as JSON, for
email_notifier_test: an independent MIME parser checks what Vigil sent.

Output: {"headers": [[name, decoded value], ...], "content_type", "parts": [{"content_type",
"charset", "transfer_encoding", "content"}], "defects": [...], "max_line_length"}.
"""

import email
import email.policy
import json
import sys


def main():
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for d in msg.defects]
    parts = []
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
            "content": part.get_content(),
        })
    out = {
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": defects,
        "max_line_length": max(len(line) for line in raw.split(b"\n")),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
