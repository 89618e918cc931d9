"""The pyiso8583 side of benches/batch.sh: times pyiso8583 (in-process) on the same messages.

Usage: python3 batch_pyiso8583.py FLAVOUR MESSAGES.jsonl OURS.hex
  FLAVOUR   default_ascii | default | bcd (the pyiso8583 flavours of fixtures/vectors/)
  MESSAGES  the tool's JSON lines ({"mti", "fields"}) that `iso8583 encode` read
  OURS      what `iso8583 encode` wrote: pyiso8583's bytes are compared with these

Prints one JSON line: {"flavour", "messages", "encode_s", "decode_s", "encode_cpu_s",
"decode_cpu_s", "same_bytes"} (wall and CPU seconds of the encode and decode loops).
pyiso8583 is run as its own process; none of its code is part of the crate.
"""

import binascii
import json
import os
import sys
import time

import iso8583
from iso8583.specs import default, default_ascii

HERE = os.path.dirname(os.path.abspath(__file__))


def bcd_spec():
    """The BCD flavour of fixtures/vectors/, built from its field table."""
    path = os.path.join(HERE, "..", "fixtures", "vectors", "spec_bcd.jsonl")
    spec = {}
    for line in open(path):
        f = json.loads(line)
        field = {
            "data_enc": f["data_enc"],
            "len_enc": f["len_enc"],
            "len_type": f["len_type"],
            "max_len": f["max_len"],
            "desc": f["desc"],
            "len_count": f["count"],
        }
        if f["pad"] == "L0":
            field["left_pad"] = "0"
        spec[f["fld"]] = field
    return spec


def main():
    flavour, messages, ours = sys.argv[1:4]
    spec = {"default_ascii": default_ascii, "default": default, "bcd": None}[flavour] or bcd_spec()
    docs = []
    for line in open(messages):
        m = json.loads(line)
        doc = {"t": m["mti"]}
        for k, v in m["fields"].items():
            if flavour == "bcd" and spec[k]["data_enc"] == "b":
                v = v.replace("=", "D")
            doc[k] = v
        docs.append(doc)

    t0, c0 = time.perf_counter(), time.process_time()
    encoded = [bytes(iso8583.encode(dict(d), spec)[0]) for d in docs]
    t1, c1 = time.perf_counter(), time.process_time()
    for raw in encoded:
        iso8583.decode(raw, spec)
    t2, c2 = time.perf_counter(), time.process_time()

    same = 0
    with open(ours) as f:
        for raw, line in zip(encoded, f):
            same += binascii.hexlify(raw).decode().upper() == line.strip()
    print(json.dumps({
        "flavour": flavour,
        "messages": len(docs),
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
        "encode_cpu_s": c1 - c0,
        "decode_cpu_s": c2 - c1,
        "same_bytes": same,
    }))


if __name__ == "__main__":
    main()
