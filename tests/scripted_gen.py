"""A scripted generator program for tests: reads the document on stdin, prints a reply.

Usage: scripted_gen.py LOG [--sleep S] [--gate FILE]

- The reply's file content is derived from the document's <constraints>,
  <instructions> and <input> only, so the same chain always gives the same file.
- CANNED-CONSTANT always gets the same one-line file.
- A document containing CANNED-FINDINGS gets <findings> back; CANNED-GARBAGE gets
  an unusable reply; CANNED-FENCED a file wrapped in a ``` fence; CANNED-TWICE two
  <artifact> blocks; CANNED-FAIL makes the program exit 3; CANNED-SLEEP=<s> sleeps;
  CANNED-ASSUME adds two assumptions to the reply.
- With --gate, each call waits (a minute at most) until FILE exists before it answers.
- Every call appends one JSON line to LOG: the working directory, the files in it,
  and the labels of the document's entries.
"""
import hashlib
import json
import os
import re
import sys
import time


def main() -> int:
    log = sys.argv[1]
    sleep = float(sys.argv[sys.argv.index("--sleep") + 1]) if "--sleep" in sys.argv else 0.0
    document = sys.stdin.read()
    match = re.search(r"CANNED-SLEEP=([0-9.]+)", document)
    if match:
        sleep = float(match.group(1))
    labels = re.findall(r'<entry name="([^"]*)"', document)
    agent = re.findall(r"<instructions[^>]*>\n(.*?)</instructions>", document, re.S)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"cwd": os.getcwd(), "cwd_files": os.listdir("."),
                                 "labels": labels, "pid": os.getpid(),
                                 "start": time.time(), "sleep": sleep,
                                 "has_existing": "<existing_artifact>" in document,
                                 "dispositions": re.findall(r'disposition="(\w+)"', document),
                                 "document": document}) + "\n")
    gate = sys.argv[sys.argv.index("--gate") + 1] if "--gate" in sys.argv else None
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    if sleep:
        time.sleep(sleep)
    # Writing into the working directory must have no effect on the project.
    with open("stray-output.txt", "w", encoding="utf-8") as stray:
        stray.write("ignored")
    if "CANNED-FAIL" in document:
        print("scripted failure", file=sys.stderr)
        return 3
    if "CANNED-FINDINGS" in document:
        print("<findings>\nThe spec does not say which currency to use.\n</findings>")
        print("<assumptions>\nNone.\n</assumptions>")
        return 0
    if "CANNED-GARBAGE" in document:
        print("I am not sure what to do.")
        return 0
    if "CANNED-FENCED" in document:
        print("<artifact>\n```text\nfenced content\n```\n</artifact>")
        return 0
    if "CANNED-TWICE" in document:
        print("<artifact>\none\n</artifact>\n<artifact>\ntwo\n</artifact>")
        return 0
    if "CANNED-CONSTANT" in document:
        print("<artifact>\nconstant content\n</artifact>")
        return 0
    current = re.sub(r"<existing_artifact>.*?</existing_artifact>\n", "", document, flags=re.S)
    current = re.sub(r"<previous_\w+>.*?</previous_\w+>\n", "", current, flags=re.S)
    current = re.sub(r' disposition="\w+"', "", current)
    digest = hashlib.sha1(current.encode("utf-8")).hexdigest()
    print("Here is the file.")
    print("<artifact>")
    print(f"# generated from chain document {digest}")
    for line in (agent[0] if agent else "").splitlines():
        print(f"# {line}")
    print("</artifact>")
    if "CANNED-ASSUME" in document:
        print("<assumptions>\n- Amounts are whole cents.\n- Names are ASCII.\n</assumptions>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
