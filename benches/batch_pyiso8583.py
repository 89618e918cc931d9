"""The pyiso8583 side of benches/batch.sh: times pyiso8583 (in-process) on the same messages.

Usage: python3 batch_pyiso8583.py FLAVOUR MESSAGES.jsonl OURS.hex [RUNS]
  FLAVOUR   default_ascii | default | bcd (the pyiso8583 flavours of fixtures/vectors/)
  MESSAGES  the tool's JSON lines ({"mti", "fields"}) that `iso8583 encode` read
  OURS      what `iso8583 encode` wrote: pyiso8583's bytes are compared with these
  RUNS      how many times each loop runs; the fastest run counts (default 1), as the tool's do

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
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
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

    best = {}

    def timed(key, loop):
        """Runs `loop` RUNS times; keeps the fastest wall and CPU seconds under `key`."""
        result = None
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            result = loop()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[key] = min(best.get(key, (wall, cpu)), (wall, cpu))
        return result

    encoded = timed("encode", lambda: [bytes(iso8583.encode(dict(d), spec)[0]) for d in docs])
    def decode_all():
        for raw in encoded:
            iso8583.decode(raw, spec)

    timed("decode", decode_all)

    same = 0
    with open(ours) as f:
        for raw, line in zip(encoded, f):
            same += binascii.hexlify(raw).decode().upper() == line.strip()
    print(json.dumps({
        "flavour": flavour,
        "messages": len(docs),
        "encode_s": best["encode"][0],
        "decode_s": best["decode"][0],
        "encode_cpu_s": best["encode"][1],
        "decode_cpu_s": best["decode"][1],
        "same_bytes": same,
    }))


if __name__ == "__main__":
    main()
