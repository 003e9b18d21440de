"""A cfs command generator: sends the document (stdin) to an OpenAI-compatible chat server
and prints the model's answer, which is the reply. GEN_URL (default: Ollama on this machine),
GEN_MODEL and GEN_KEY choose the server, the model and the key."""
import json
import os
import subprocess
import sys
import urllib.request

document = sys.stdin.read()
prompt = subprocess.run(["cfs", "prompt"], capture_output=True, text=True, check=True).stdout
url = os.environ.get("GEN_URL", "http://127.0.0.1:11434/v1") + "/chat/completions"
body = {"model": os.environ.get("GEN_MODEL", "qwen2.5-coder:7b"), "temperature": 0,
        "messages": [{"role": "system", "content": prompt},
                     {"role": "user", "content": document}]}
headers = {"Content-Type": "application/json",
           "Authorization": "Bearer " + os.environ.get("GEN_KEY", "none")}
request = urllib.request.Request(url, json.dumps(body).encode(), headers)
with urllib.request.urlopen(request, timeout=600) as response:
    print(json.load(response)["choices"][0]["message"]["content"])
