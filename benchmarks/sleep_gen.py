"""A generator program for the parallel benchmark: sleeps, then answers with a small file."""
import hashlib
import sys
import time

document = sys.stdin.read()
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
print("<artifact>")
print(hashlib.sha1(document.encode("utf-8")).hexdigest())
print("</artifact>")
