#!/usr/bin/env python3
"""Print, as JSON, the script sections pykickstart (and so Anaconda) reads from
each kickstart named on the command line: their kind, interpreter, chroot flag
and body. pykickstart splits the file with str.splitlines(), so this is what a
line break other than "\\n" would change. One object per file:
{"file": ..., "scripts": [...]} or {"file": ..., "error": ...}."""
import json
import sys

from pykickstart.constants import (KS_SCRIPT_ONERROR, KS_SCRIPT_POST, KS_SCRIPT_PRE,
                                   KS_SCRIPT_PREINSTALL, KS_SCRIPT_TRACEBACK)
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

KINDS = {KS_SCRIPT_PRE: "pre", KS_SCRIPT_POST: "post", KS_SCRIPT_TRACEBACK: "traceback",
         KS_SCRIPT_PREINSTALL: "pre-install", KS_SCRIPT_ONERROR: "onerror"}

out = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    first = text.split("\n", 1)[0]
    version = first[len("#version="):] if first.startswith("#version=") else "DEVEL"
    parser = KickstartParser(makeVersion(version))
    try:
        parser.readKickstartFromString(text)
    except Exception as e:  # a refusal is a result too: the caller compares
        out.append({"file": path, "error": str(e)})
        continue
    out.append({"file": path, "scripts": [
        {"kind": KINDS.get(s.type, str(s.type)), "interp": s.interp, "chroot": s.inChroot,
         "body": s.script} for s in parser.handler.scripts]})
print(json.dumps(out))
